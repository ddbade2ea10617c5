using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace TeleGuard.Backup.Benchmarks;

/// <summary>
/// <c>suite</c>: every benchmark, each in its own child process (so each peak memory figure is that run's own), and one
/// Markdown table of the results against the targets of issues 2–5, written to <c>--out</c> and printed. Needs the
/// servers of services.env (MongoDB, RabbitMQ, Redis, the git server) and <c>openssl</c>.
/// </summary>
public static class SuiteBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var quick = args.Contains("--quick");
        var outIndex = Array.IndexOf(args, "--out");
        var output = outIndex >= 0 && outIndex + 1 < args.Length ? args[outIndex + 1] : "docs/benchmark-results.md";
        var big = quick ? 256 : 1024; // "1 GiB" figures; --quick uses 256 MiB
        // Round two's "before" columns: harnesses built at earlier commits (tests/TeleGuard.Backup.Benchmarks/Before/README.md),
        // run here on the same data, servers and machine as this build.
        var beforeRestore = Option(args, "--before-restore");
        var beforePipeline = Option(args, "--before-pipeline");
        string[] drop = ["drop-bench-databases"]; // between large runs: the MongoDB stand-in holds everything in memory
        // The 1 GiB figures come from one mode per service: the MongoDB stand-in cannot serve the 1 GiB pipeline (it
        // copies whole query results and stops answering), see docs/performance.md.
        var runs = new List<(string Prefix, string[] Args)> { ("", drop) };
        string[] restoreStandIn = ["restore-mongo", "--documents", RestoreStandInDocuments.ToString(CultureInfo.InvariantCulture), "--collections", "4", "--no-verify"];
        string[] restoreAbsorbed = ["restore-mongo", "--documents", RestoreAbsorbedDocuments.ToString(CultureInfo.InvariantCulture), "--collections", "4", "--no-verify"];
        runs.AddRange(
        [
            ("", ["writer", "--mb", quick ? "128" : "512"]),
            ("", ["crypto", "--mb", big.ToString(CultureInfo.InvariantCulture)]),
            ("", ["compression", "--mb", quick ? "64" : "256"]),
            ("", ["git-growth", "--mb", quick ? "20" : "100", "--hours", quick ? "6" : "24", "--churn", "0.01"]),
            // Filled in one process, exported in a fresh one: the peak is the export's own.
            ("", ["export-mongo", "--mb", big.ToString(CultureInfo.InvariantCulture), "--fill-only"]),
            ("", ["export-mongo", "--mb", big.ToString(CultureInfo.InvariantCulture)]),
            ("", drop),
            ("", ["telegram-upload", "--mb", big.ToString(CultureInfo.InvariantCulture), "--part-mb", "500"]),
            ("", ["github-sink", "--mb", big.ToString(CultureInfo.InvariantCulture)]),
            ("p10.", ["pipeline", "--mb", "10"]),
            ("p100.", ["pipeline", "--mb", "100"]),
            ("p100d.", ["pipeline", "--mb", "100", "--store", "directory"]),
            ("", ["seed-baseline", "--mb", "100"]),
            ("", ["ours-baseline", "--mb", "100"]),
            ("", drop),
            // Round two (issue 19).
            ("", ["restore-decode", "--documents", "1000000"]),
            ("p1024.", ["pipeline", "--mb", big.ToString(CultureInfo.InvariantCulture)]),
            ("", drop),
        ]);
        // Restores: three rounds, before and after alternating, each figure the median of its three.
        for (var round = 1; round <= RestoreRounds; round++)
        {
            runs.Add(($"r{round}.", restoreStandIn));
            runs.Add(($"ra{round}.", [AbsorbedMarker, .. restoreAbsorbed]));
            if (beforeRestore is not null)
            {
                runs.Add(($"br{round}.", [BeforeMarker, beforeRestore, .. restoreStandIn]));
                runs.Add(($"bra{round}.", [AbsorbedMarker, BeforeMarker, beforeRestore, .. restoreAbsorbed]));
            }
        }

        runs.Add(("", drop));
        if (beforePipeline is not null)
        {
            runs.Add(("bp10.", [BeforeMarker, beforePipeline, "pipeline", "--mb", "10"]));
            runs.Add(("bp100.", [BeforeMarker, beforePipeline, "pipeline", "--mb", "100"]));
            runs.Add(("", drop));
        }

        // Warm pipelines (the hourly case): three rounds, before and after alternating; each figure from the round with
        // the median ratio (a 10 MB run lasts about a second, so one run says little).
        for (var round = 1; round <= PipelineRounds; round++)
        {
            foreach (var size in WarmSizes)
            {
                runs.Add(($"p{size}w{round}.", ["pipeline", "--mb", size, "--warm"]));
                if (beforePipeline is not null)
                {
                    runs.Add(($"bp{size}w{round}.", [BeforeMarker, beforePipeline, "pipeline", "--mb", size, "--warm"]));
                }
            }
        }

        runs.Add(("", drop));

        var results = new Dictionary<string, double>();
        var failures = new List<string>();
        var started = Stopwatch.StartNew();
        foreach (var (prefix, runArgs) in runs)
        {
            Console.WriteLine($"== {string.Join(' ', runArgs)}");
            var (exitCode, lines) = await RunMarkedAsync(runArgs);
            foreach (var line in lines.Where(l => l.StartsWith(BenchmarkResult.Prefix, StringComparison.Ordinal)))
            {
                var parts = line[BenchmarkResult.Prefix.Length..].Split(' ');
                results[prefix + parts[0]] = double.Parse(parts[1], CultureInfo.InvariantCulture);
            }

            if (exitCode != 0)
            {
                failures.Add($"`{string.Join(' ', runArgs)}` exited {exitCode}");
            }
        }

        foreach (var run in new[] { "r", "ra", "br", "bra" })
        {
            foreach (var metric in new[] { "restore.seconds", "restore.cpu_s_per_gib", "restore.peak_mib" })
            {
                var values = Enumerable.Range(1, RestoreRounds).Select(k => results.TryGetValue($"{run}{k}.{metric}", out var v) ? v : double.NaN).Where(v => !double.IsNaN(v)).Order().ToList();
                if (values.Count > 0)
                {
                    results[$"{run}.{metric}"] = values[values.Count / 2];
                }
            }
        }

        foreach (var run in WarmRuns)
        {
            var rounds = Enumerable.Range(1, PipelineRounds).Where(k => results.ContainsKey($"{run}{k}.pipeline.ratio"))
                .OrderBy(k => results[$"{run}{k}.pipeline.ratio"]).ToList();
            if (rounds.Count > 0)
            {
                var median = $"{run}{rounds[rounds.Count / 2]}.";
                foreach (var (key, value) in results.Where(r => r.Key.StartsWith(median, StringComparison.Ordinal)).ToList())
                {
                    results[$"{run}.{key[median.Length..]}"] = value;
                }

                results[$"{run}.pipeline.ratios"] = rounds.Count;
                Console.WriteLine($"{run}: ratios {string.Join(", ", rounds.Select(k => results[$"{run}{k}.pipeline.ratio"].ToString("F2", CultureInfo.InvariantCulture)))}");
            }
        }

        var table = Table(results, quick, big, started.Elapsed, failures);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        await File.WriteAllTextAsync(output, table);
        Console.WriteLine();
        Console.WriteLine(table);
        Console.WriteLine($"(written to {output})");
        return failures.Count == 0 ? 0 : 1;
    }

    private const string AbsorbedMarker = "@absorbed"; // run with MONGODB_URI through mongo-absorb-inserts
    private const string BeforeMarker = "@before"; // followed by the path of an earlier build's harness
    private const int RestoreStandInDocuments = 1_000_000;
    private const int RestoreAbsorbedDocuments = 3_000_000;
    private const int RestoreRounds = 3;
    private const int PipelineRounds = 3;
    private static readonly string[] WarmSizes = ["10", "100"];
    private static readonly string[] WarmRuns = ["bp10w", "p10w", "bp100w", "p100w"];
    private static readonly string[] PipelineServices = ["snapshot", "github", "public", "telegram"];

    private static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? Path.GetFullPath(args[i + 1]) : null;
    }

    // A run's markers: through the insert-absorbing proxy, with an earlier build's harness.
    private static async Task<(int ExitCode, List<string> Lines)> RunMarkedAsync(string[] args)
    {
        string? harness = null;
        var environment = new Dictionary<string, string>();
        Process? absorber = null;
        try
        {
            if (args[0] == AbsorbedMarker)
            {
                args = args[1..];
                absorber = Process.Start(new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "TeleGuard.Backup.Benchmarks.dll"), "mongo-absorb-inserts"])
                {
                    RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false,
                })!;
                var listening = await absorber.StandardOutput.ReadLineAsync() ?? throw new InvalidOperationException("mongo-absorb-inserts did not start.");
                environment["MONGODB_URI"] = listening.Split(' ')[1];
            }

            if (args[0] == BeforeMarker)
            {
                harness = args[1];
                args = args[2..];
            }

            var result = await RunChildAsync(args, harness, environment);
            if (absorber is not null)
            {
                absorber.StandardInput.Close();
                result.Lines.Add("   " + await absorber.StandardOutput.ReadToEndAsync());
                await absorber.WaitForExitAsync();
            }

            return result;
        }
        finally
        {
            absorber?.Dispose();
        }
    }

    private static async Task<(int ExitCode, List<string> Lines)> RunChildAsync(string[] args, string? harness = null, Dictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add(harness ?? Path.Combine(AppContext.BaseDirectory, "TeleGuard.Backup.Benchmarks.dll"));
        foreach (var (name, value) in environment ?? [])
        {
            start.Environment[name] = value;
        }

        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var lines = new List<string>();
        while (await process.StandardOutput.ReadLineAsync() is { } line)
        {
            lines.Add(line);
            Console.WriteLine("   " + line);
        }

        await process.WaitForExitAsync();
        return (process.ExitCode, lines);
    }

    private static string WarmRatios(Dictionary<string, double> r) => string.Join("; ", WarmRuns.Select(run =>
        $"{(run.StartsWith('b') ? "before" : "after")} {run.TrimStart('b', 'p').TrimEnd('w')} MB "
        + string.Join(", ", Enumerable.Range(1, PipelineRounds).Where(k => r.ContainsKey($"{run}{k}.pipeline.ratio")).Select(k => r[$"{run}{k}.pipeline.ratio"].ToString("F2", CultureInfo.InvariantCulture)))));

    // Issue 19's targets, each with its "before" measured in this run by an earlier build's harness where one was given.
    private static string RoundTwoTable(Dictionary<string, double> r, int big)
    {
        string F(string key, string format = "F0") => r.TryGetValue(key, out var v) ? v.ToString(format, CultureInfo.InvariantCulture) : "—";
        double? V(string key) => r.TryGetValue(key, out var v) ? v : null;
        string Ratio(double? after, double? before, string format = "F2") => after is { } a && before is { } b && b > 0 ? (a / b).ToString(format, CultureInfo.InvariantCulture) + " ×" : "—";
        string Met(double? value, Func<double, bool> ok) => value is { } v ? (ok(v) ? "met" : "**not met**") : "not measured";
        string PerSecond(double? seconds, int documents) => seconds is { } s && s > 0 ? (documents / s).ToString("N0", CultureInfo.InvariantCulture) : "—";
        double? Rate(double? seconds, int documents) => seconds is { } s && s > 0 ? documents / s : null;

        var beforeStandIn = Rate(V("br.restore.seconds"), RestoreStandInDocuments);
        var afterStandIn = Rate(V("r.restore.seconds"), RestoreStandInDocuments);
        var beforeAbsorbed = Rate(V("bra.restore.seconds"), RestoreAbsorbedDocuments);
        var afterAbsorbed = Rate(V("ra.restore.seconds"), RestoreAbsorbedDocuments);
        var rows = new List<string[]>
        {
            new[] { $"1. Restore, {RestoreAbsorbedDocuments:N0} small documents in 4 collections, into a server that inserts at once (`mongo-absorb-inserts`): documents/s",
                PerSecond(V("bra.restore.seconds"), RestoreAbsorbedDocuments), PerSecond(V("ra.restore.seconds"), RestoreAbsorbedDocuments),
                Ratio(afterAbsorbed, beforeAbsorbed), "≥ 3 ×", Met(afterAbsorbed / beforeAbsorbed, v => v >= 3) },
            new[] { $"1. Restore, {RestoreStandInDocuments:N0} small documents in 4 collections, into the MongoDB stand-in: documents/s",
                PerSecond(V("br.restore.seconds"), RestoreStandInDocuments), PerSecond(V("r.restore.seconds"), RestoreStandInDocuments),
                Ratio(afterStandIn, beforeStandIn), "(the stand-in's lock)", "" },
            new[] { "1. Restore's client CPU (user + system) per GiB of JSONL, into the server that inserts at once / the stand-in", "—",
                $"{F("ra.restore.cpu_s_per_gib", "F1")} / {F("r.restore.cpu_s_per_gib", "F1")} s", "", "", "" },
            new[] { $"1. Restore's peak resident memory, {RestoreAbsorbedDocuments:N0} documents / {RestoreStandInDocuments:N0}", "—",
                $"{F("ra.restore.peak_mib")} / {F("r.restore.peak_mib")} MiB", "", "independent of size", "" },
            new[] { "1. Decode alone (canonical JSONL to the BSON inserted, with its checks), one thread", "—",
                $"{F("decode.small.mb_per_second")} MB/s = {F("decode.small.documents_per_second", "N0")} documents/s", "", "", "" },
        };
        foreach (var (sink, label) in new[] { ("public", "public (encrypted) sink"), ("telegram", "Telegram sink"), ("github", "GitHub sink") })
        {
            rows.Add([$"2. Compress once: {label} alone / in parallel, 100 MB database", $"{F($"bp100.pipeline.alone_s.{sink}", "F2")} / {F($"bp100.pipeline.parallel_s.{sink}", "F2")} s",
                $"{F($"p100.pipeline.alone_s.{sink}", "F2")} / {F($"p100.pipeline.parallel_s.{sink}", "F2")} s", Ratio(V($"bp100.pipeline.parallel_s.{sink}"), V($"p100.pipeline.parallel_s.{sink}")), "", ""]);
        }

        foreach (var (size, target, warm) in new[] { ("10", 1.25, ""), ("100", 1.1, ""), ("10", 1.25, "w"), ("100", 1.1, "w") })
        {
            var which = warm == "w" ? "warm services (one snapshot copied before; the hourly case)" : "services just started (the first snapshot)";
            var key = size + warm;
            rows.Add([$"3. End to end / (export + slowest sink alone), {size} MB database, {which}",
                $"{F($"bp{key}.pipeline.ratio", "F2")} ({F($"bp{key}.pipeline.end_to_end_s", "F2")} s)", $"{F($"p{key}.pipeline.ratio", "F2")} ({F($"p{key}.pipeline.end_to_end_s", "F2")} s)",
                Ratio(V($"bp{key}.pipeline.end_to_end_s"), V($"p{key}.pipeline.end_to_end_s")), $"≤ {target.ToString(CultureInfo.InvariantCulture)} ×", Met(V($"p{key}.pipeline.ratio"), v => v <= target)]);
        }

        rows.Add(["4. Private repository after 24 hourly snapshots at 1 % churn, × one gzip snapshot (after `git gc`); commit + push per hour",
            "1.64 (as filed; the layout is unchanged)", $"{F("git.ratio", "F2")}; {F("git.push_median_s", "F1")} s", "", "≤ 1.3 ×", Met(V("git.ratio"), v => v <= 1.3)]);
        rows.Add(["5. Export's client CPU (user + system) per GiB of JSONL", "—", $"{F("export.cpu_s_per_gib", "F1")} s", "", "", ""]);
        rows.Add([$"5. Pipeline of a {big} MiB database: export, end to end, ratio", "—",
            $"{F("p1024.pipeline.export_s", "F1")} s, {F("p1024.pipeline.end_to_end_s", "F1")} s, {F("p1024.pipeline.ratio", "F2")} ×", "", "finishes", Met(V("p1024.pipeline.ratio"), _ => true)]);
        rows.Add([$"5. Pipeline of a {big} MiB database: peak resident memory, snapshot / GitHub / public / Telegram services", "—",
            $"{F("p1024.pipeline.peak_mib.snapshot")} / {F("p1024.pipeline.peak_mib.github")} / {F("p1024.pipeline.peak_mib.public")} / {F("p1024.pipeline.peak_mib.telegram")} MiB", "", "< 256 MiB",
            Met(PipelineServices.Select(n => V($"p1024.pipeline.peak_mib.{n}")).Max(), v => v < 256)]);

        var text = new StringBuilder();
        text.AppendLine("Round two (issue 19): \"before\" is an earlier build's harness run in this same suite on the same data (restore: the seed's");
        text.AppendLine("restorer, 4da9fbb; compress once and end to end: 31eec02, the commit before it; see tests/TeleGuard.Backup.Benchmarks/Before/README.md).");
        text.AppendLine($"Restore figures are the median of {RestoreRounds} rounds and warm pipelines the round with the median ratio of {PipelineRounds}, before and after alternating;");
        text.AppendLine($"the warm ratios of every round: {WarmRatios(r)}.");
        text.AppendLine();
        text.AppendLine("| what | before | after | × faster | target | |");
        text.AppendLine("|---|---|---|---|---|---|");
        foreach (var row in rows)
        {
            text.AppendLine($"| {string.Join(" | ", row)} |");
        }

        return text.ToString();
    }

    private static string Table(Dictionary<string, double> r, bool quick, int big, TimeSpan elapsed, List<string> failures)
    {
        string F(string key, string format = "F0") => r.TryGetValue(key, out var v) ? v.ToString(format, CultureInfo.InvariantCulture) : "—";
        string Met(string key, Func<double, bool> ok) => r.TryGetValue(key, out var v) ? (ok(v) ? "met" : "**not met**") : "not measured";
        var rows = new List<string[]>
        {
            new[] { "Export writer (canonical JSONL + SHA-256, one thread)", $"{F("writer.json_mbps")} MB/s (driver's JsonWriter: {F("writer.driver_json_mbps")})", "≥ 150 MB/s", Met("writer.json_mbps", v => v >= 150) },
            new[] { "Encryption, streaming format", $"{F("crypto.encrypt_mbps")} MB/s", "≥ 50 % of OpenSSL", Met("crypto.encrypt_mbps", v => v >= 0.5 * r.GetValueOrDefault("crypto.openssl_mbps")) },
            new[] { "Decryption, streaming format", $"{F("crypto.decrypt_mbps")} MB/s", "", "" },
            new[] { "`openssl speed -evp aes-256-gcm` (16 KiB, same run)", $"{F("crypto.openssl_mbps")} MB/s", "reference", "" },
            new[] { "Encrypt / decrypt through files (with hashing)", $"{F("crypto.file_encrypt_mbps")} / {F("crypto.file_decrypt_mbps")} MB/s", "", "" },
            new[] { $"Encryption round trip of {big} MiB, peak resident", $"{F("crypto.roundtrip_peak_mib")} MiB", "< 128 MiB", Met("crypto.roundtrip_peak_mib", v => v < 128) },
        };
        foreach (var codec in new[] { "gzip-fastest", "gzip-optimal", "gzip-smallest", "brotli-fastest", "brotli-optimal", "zlib-optimal" })
        {
            rows.Add([$"Compression {codec}{(codec == "gzip-optimal" ? " (the stored artifact's)" : "")}",
                $"{F($"compression.{codec}.compress_mbps")} MB/s in, {F($"compression.{codec}.decompress_mbps")} MB/s out, ratio {F($"compression.{codec}.ratio", "F2")}", "", ""]);
        }

        rows.AddRange(
        [
            [$"Private repository after {(quick ? "6" : "24")} hourly snapshots, 1 % churn ({F("git.snapshot_mib", "F1")} MiB JSONL)",
                $"{F("git.after_gc_mib", "F1")} MiB after gc = {F("git.ratio", "F2")} × one gzip snapshot ({F("git.before_gc_mib", "F1")} MiB before gc); push {F("git.push_median_s", "F1")} s/hour",
                "≤ 2.0 ×", Met("git.ratio", v => v <= 2.0)],
            [$"Snapshot service (exporter) peak, {F("export.mib")} MiB collection", $"{F("export.peak_mib")} MiB ({F("export.seconds", "F1")} s)", "< 256 MiB", Met("export.peak_mib", v => v < 256)],
            [$"Telegram sink peak, {F("telegram.mib")} MiB archive upload", $"{F("telegram.peak_mib")} MiB ({F("telegram.seconds", "F1")} s)", "< 256 MiB", Met("telegram.peak_mib", v => v < 256)],
            [$"GitHub sink peak, {F("githubsink.mib")} MiB snapshot committed and pushed", $"{F("githubsink.peak_mib")} MiB ({F("githubsink.seconds", "F1")} s)", "< 256 MiB", Met("githubsink.peak_mib", v => v < 256)],
            [$"Encryption sink's path (gzip + encrypt + decrypt), {big} MiB", $"{F("crypto.roundtrip_peak_mib")} MiB (round trip above)", "< 256 MiB", Met("crypto.roundtrip_peak_mib", v => v < 256)],
        ]);
        foreach (var size in new[] { "100" })
        {
            foreach (var service in PipelineServices)
            {
                rows.Add([$"{service} service process peak, {size} MiB database (pipeline)", $"{F($"p{size}.pipeline.peak_mib.{service}")} MiB", "< 256 MiB",
                    Met($"p{size}.pipeline.peak_mib.{service}", v => v < 256)]);
            }
        }

        foreach (var size in new[] { "10", "100", "100d" })
        {
            var store = size.EndsWith('d') ? "artifacts on a shared directory" : "artifacts in GridFS (default)";
            rows.Add([$"End to end, {size.TrimEnd('d')} MB database ({F($"p{size}.pipeline.json_mib", "F1")} MiB JSON), {store}: SnapshotRequested → every destination recorded",
                $"{F($"p{size}.pipeline.end_to_end_s", "F2")} s vs export {F($"p{size}.pipeline.export_s", "F2")} s + slowest sink alone {F($"p{size}.pipeline.slowest_sink_alone_s", "F2")} s = **{F($"p{size}.pipeline.ratio", "F2")} ×**",
                "≤ 1.25 ×", Met($"p{size}.pipeline.ratio", v => v <= 1.25)]);
        }

        rows.Add(["BASELINE seed approach, 100 MB database: in-memory JSON indent=2 default=str + whole-file AES-GCM + base64 (lossy)",
            $"{F("seed.seconds", "F2")} s, peak {F("seed.peak_mib")} MiB, output {F("seed.output_mib", "F1")} MiB", "baseline", ""]);
        rows.Add(["TeleGuard on the same database: streaming canonical JSONL + tar + gzip + streaming AES-256-GCM (lossless)",
            $"{F("ours.seconds", "F2")} s, peak {F("ours.peak_mib")} MiB, output {F("ours.output_mib", "F1")} MiB", "", ""]);

        var text = new StringBuilder();
        text.AppendLine($"<!-- generated by: dotnet run -c Release --project tests/TeleGuard.Backup.Benchmarks -- suite{(quick ? " --quick" : "")} -->");
        text.AppendLine($"Generated {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}; suite took {elapsed.TotalMinutes:F0} min{(quick ? " (--quick: smaller sizes)" : "")}.");
        text.AppendLine();
        text.AppendLine("| what | figure | target | |");
        text.AppendLine("|---|---|---|---|");
        foreach (var row in rows)
        {
            text.AppendLine($"| {string.Join(" | ", row)} |");
        }

        text.AppendLine();
        text.Append(RoundTwoTable(r, big));
        foreach (var failure in failures)
        {
            text.AppendLine();
            text.AppendLine($"Failed: {failure}.");
        }

        return text.ToString();
    }
}

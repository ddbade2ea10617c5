using System.Diagnostics;
using System.IO.Compression;
using LibGit2Sharp;
using Microsoft.Extensions.Logging.Abstractions;
using MongoDB.Bson;
using TeleGuard.Backup.Git;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Benchmarks;

/// <summary>
/// The repository growth target: private-repository growth over hourly snapshots with a small churn. A synthetic collection of
/// about the given size is written as the GitHub sink writes it (canonical JSONL in 45 MiB parts under snapshot/),
/// committed and pushed with the project's git writer once per "hour", with the given fraction of documents changed
/// between hours. Then the server's bare repository is garbage-collected and its size compared with one snapshot
/// compressed by gzip.
/// </summary>
public static class GitGrowthBenchmark
{
    public static int Run(string[] args)
    {
        var megabytes = BenchmarkOptions.Number(args, "--mb", 100.0);
        var hours = (int)BenchmarkOptions.Number(args, "--hours", 24.0);
        var churn = BenchmarkOptions.Number(args, "--churn", 0.01);
        // --split-by-id K: a part also ends after a document whose _id hashes to 0 mod K (boundaries chosen by content:
        // an update or insert moves no boundary after it), as well as at 45 MiB. 0: only at 45 MiB (what the sink does).
        var splitById = (uint)BenchmarkOptions.Number(args, "--split-by-id", 0);
        var baseUrl = Environment.GetEnvironmentVariable("GIT_HTTP_BASE") ?? throw new InvalidOperationException("GIT_HTTP_BASE is not set (source services.env).");
        var root = Environment.GetEnvironmentVariable("GIT_HTTP_ROOT")!;
        var token = Environment.GetEnvironmentVariable("GIT_HTTP_TOKEN")!;
        var name = $"bench-growth-{Guid.NewGuid():N}"[..25];
        var bare = Path.Combine(root, name + ".git");
        Git(null, "init", "--quiet", "--bare", bare);
        var work = Path.Combine(Path.GetTempPath(), name);
        var writer = new GitBranchWriter(new GitRemote(new Uri($"{baseUrl}/{name}.git"), "backups", "x-access-token", token), work, NullLogger.Instance);

        // ~1 KiB documents; a changed document gets a new "score" and "note".
        var count = (int)(megabytes * 1024 * 1024 / 1100);
        var documents = Enumerable.Range(0, count).Select(i => SyntheticDocuments.Create(i, 600).ToBson()).ToArray();
        var random = new Random(42);
        var times = new List<double>();
        long oneSnapshotGzip = 0, oneSnapshotBytes = 0;
        for (var hour = 0; hour < hours; hour++)
        {
            if (hour > 0)
            {
                for (var k = 0; k < count * churn; k++)
                {
                    var i = random.Next(count);
                    var changed = SyntheticDocuments.Create(i, 600);
                    changed["score"] = random.NextDouble();
                    changed["note"] = $"changed in hour {hour}: {Guid.NewGuid()}" + new string('z', 540);
                    documents[i] = changed.ToBson();
                }
            }

            var folder = Path.Combine(work, "snapshot");
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, true);
            }

            using (var parts = new JsonLinesPartWriter(folder, "collections/users", 45L * 1024 * 1024))
            {
                var json = new CanonicalJsonWriter();
                for (var i = 0; i < documents.Length; i++)
                {
                    json.Reset();
                    json.WriteLine(documents[i]);
                    parts.WriteLine(json.Written);
                    if (splitById > 0 && unchecked((uint)i * 2654435761u) % splitById == 0)
                    {
                        parts.EndPart(); // document i's _id is a function of i: a stable hash of the _id
                    }
                }

                parts.Complete();
                if (hour == 0)
                {
                    oneSnapshotBytes = parts.Bytes;
                    oneSnapshotGzip = GzipSize(Directory.GetFiles(Path.Combine(folder, "collections/users")).Order());
                }
            }

            var id = $"20261126T{hour:D2}0000Z";
            var files = Directory.GetFiles(folder, "*", SearchOption.AllDirectories).Order().ToList();
            var stopwatch = Stopwatch.StartNew();
            writer.CommitSnapshot(id, $"Snapshot {id}", DateTimeOffset.UtcNow, (repository, parent) =>
            {
                var tree = parent is null ? new TreeDefinition() : TreeDefinition.From(parent);
                tree.Remove("snapshot");
                foreach (var file in files)
                {
                    tree.Add($"snapshot/{Path.GetRelativePath(folder, file)}", repository.ObjectDatabase.CreateBlob(file), Mode.NonExecutableFile);
                }

                return tree;
            }, SnapshotPlacement.InDataOrder);
            times.Add(stopwatch.Elapsed.TotalSeconds);
            Console.WriteLine($"hour {hour:D2}: commit + push {stopwatch.Elapsed.TotalSeconds:F2} s, server repository {DirectorySize(bare) / 1048576.0:F1} MiB before gc");
        }

        var beforeGc = DirectorySize(bare);
        var gc = Stopwatch.StartNew();
        Git(bare, "gc", "--quiet");
        var afterGc = DirectorySize(Path.Combine(bare, "objects"));
        Console.WriteLine($"snapshot: {count:N0} documents, {oneSnapshotBytes / 1048576.0:F1} MiB of JSONL, gzip -6 {oneSnapshotGzip / 1048576.0:F1} MiB; churn {churn:P1} per hour, {hours} hours"
                          + (splitById > 0 ? $"; parts also end where the _id hashes to 0 mod {splitById}" : ""));
        Console.WriteLine($"commit + push per hour: first {times[0]:F2} s, median of the rest {Median(times.Skip(1)):F2} s, max {times.Skip(1).DefaultIfEmpty(0).Max():F2} s");
        Console.WriteLine($"server repository: {beforeGc / 1048576.0:F1} MiB before gc, objects {afterGc / 1048576.0:F1} MiB after git gc ({gc.Elapsed.TotalSeconds:F0} s); "
                          + $"ratio to one gzip snapshot: {afterGc / (double)oneSnapshotGzip:F2} (target <= 2.0)");
        BenchmarkResult.Report("git.snapshot_mib", oneSnapshotBytes / 1048576.0);
        BenchmarkResult.Report("git.gzip_mib", oneSnapshotGzip / 1048576.0);
        BenchmarkResult.Report("git.before_gc_mib", beforeGc / 1048576.0);
        BenchmarkResult.Report("git.after_gc_mib", afterGc / 1048576.0);
        BenchmarkResult.Report("git.ratio", afterGc / (double)oneSnapshotGzip);
        BenchmarkResult.Report("git.push_median_s", Median(times.Skip(1).DefaultIfEmpty(times[0])));
        BenchmarkResult.Report("git.peak_mib", BenchmarkResult.PeakResidentMiB());
        Directory.Delete(work, true);
        Directory.Delete(bare, true);
        return 0;
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? 0 : sorted[sorted.Count / 2];
    }

    private static long GzipSize(IEnumerable<string> files)
    {
        var counter = new CountingStream();
        using (var gzip = new GZipStream(counter, CompressionLevel.Optimal, leaveOpen: true))
        {
            foreach (var file in files)
            {
                using var input = File.OpenRead(file);
                input.CopyTo(gzip);
            }
        }

        return counter.Length;
    }

    private static long DirectorySize(string path) =>
        Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);

    private static void Git(string? directory, params string[] args)
    {
        var start = new ProcessStartInfo("git") { UseShellExecute = false };
        if (directory is not null)
        {
            start.ArgumentList.Add("-C");
            start.ArgumentList.Add(directory);
        }

        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"git {string.Join(' ', args)} failed");
        }
    }

    private sealed class CountingStream : WriteOnlyStream
    {
        private long _length;

        public override long Length => _length;
        public override void Write(byte[] buffer, int offset, int count) => _length += count;
    }
}

using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Benchmarks;

/// <summary>
/// The export memory target: export a collection of the given size from <c>MONGODB_URI</c> through the real exporter
/// (driver cursor, writer, parts) and the archive writer, and report this process's peak resident memory.
/// </summary>
public static class ExportBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var megabytes = args.Length >= 2 && args[0] == "--mb" ? int.Parse(args[1]) : 1024; // [--fill-only]
        var uri = Environment.GetEnvironmentVariable("MONGODB_URI") ?? "mongodb://127.0.0.1:27017/";
        var databaseName = $"bench_export_{megabytes}mb";
        var client = new MongoClient(uri);
        var database = client.GetDatabase(databaseName);
        var collection = database.GetCollection<BsonDocument>("big");

        const int padBytes = 10 * 1024;
        var target = megabytes * 1024L * 1024 / (padBytes + 400);
        var existing = await collection.EstimatedDocumentCountAsync();
        if (existing < target)
        {
            Console.WriteLine($"filling {databaseName}.big with {target - existing:N0} documents of ~10 KiB…");
            var fill = Stopwatch.StartNew();
            for (var i = existing; i < target; i += 500)
            {
                var count = (int)Math.Min(500, target - i);
                await collection.InsertManyAsync(Enumerable.Range((int)i, count).Select(n => SyntheticDocuments.Create(n, padBytes)),
                    new InsertManyOptions { IsOrdered = false });
            }

            Console.WriteLine($"filled in {fill.Elapsed.TotalSeconds:F0} s");
        }

        if (args.Contains("--fill-only"))
        {
            return 0; // the suite fills in one process and measures the export in a fresh one
        }

        // Memory before the export (the driver, this harness), so the export's own growth is visible.
        GC.Collect();
        var before = Process.GetCurrentProcess().WorkingSet64;
        var output = Path.Combine(Path.GetTempPath(), $"bench-export-{Guid.NewGuid():N}");
        var stopwatch = Stopwatch.StartNew();
        var cpuBefore = BenchmarkResult.ProcessCpuSeconds();
        try
        {
            var exporter = new SnapshotExporter(client, databaseName, NullLogger<SnapshotExporter>.Instance);
            var manifest = await exporter.ExportAsync("20261126T040000Z", output, new SnapshotExportOptions(), CancellationToken.None);
            var exportSeconds = stopwatch.Elapsed.TotalSeconds;
            var exportCpu = BenchmarkResult.ProcessCpuSeconds() - cpuBefore;
            var archiveCpuBefore = BenchmarkResult.ProcessCpuSeconds();
            await using (var archive = new HashingStream(File.Create(output + ".tar.gz")))
            {
                // As the snapshot service stores it: the tar, gzip-compressed.
                await SnapshotArchive.WriteCompressedAsync(output, manifest, archive, CancellationToken.None);
                var archiveCpu = BenchmarkResult.ProcessCpuSeconds() - archiveCpuBefore;
                Console.WriteLine($"archive: {archive.BytesHashed / 1048576.0:F1} MiB compressed, sha256 {archive.GetSha256()[..16]}…, "
                                  + $"{archiveCpu:F1} CPU s = {archiveCpu / (manifest.TotalBytes / 1073741824.0):F1} CPU s per GiB of JSONL");
            }

            var process = Process.GetCurrentProcess();
            process.Refresh();
            var big = manifest.Collections.Single(c => c.Name == "big");
            Console.WriteLine($"exported {big.Documents:N0} documents, {big.Bytes / 1048576.0:F0} MiB of JSONL in {big.Parts.Count} parts; "
                              + $"export {exportSeconds:F1} s ({big.Bytes / 1048576.0 / exportSeconds:F0} MB/s through this server), total with archive {stopwatch.Elapsed.TotalSeconds:F1} s");
            Console.WriteLine($"memory: working set before export {before / 1048576.0:F0} MiB, peak working set of the process {process.PeakWorkingSet64 / 1048576.0:F0} MiB, "
                              + $"managed heap now {GC.GetTotalMemory(false) / 1048576.0:F0} MiB");
            BenchmarkResult.Report("export.mib", big.Bytes / 1048576.0);
            BenchmarkResult.Report("export.seconds", exportSeconds);
            BenchmarkResult.Report("export.peak_mib", BenchmarkResult.PeakResidentMiB());
            // The client's own cost: the ceiling against a server that answers at once.
            Console.WriteLine($"client CPU: {exportCpu:F1} s user+system for the export = {exportCpu / (big.Bytes / 1073741824.0):F1} CPU s per GiB of JSONL");
            BenchmarkResult.Report("export.cpu_s_per_gib", exportCpu / (big.Bytes / 1073741824.0));
            return 0;
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }

            File.Delete(output + ".tar.gz");
        }
    }
}

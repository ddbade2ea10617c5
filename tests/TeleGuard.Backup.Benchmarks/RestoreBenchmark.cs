using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Benchmarks;

/// <summary>
/// The restore figure: a snapshot of many small documents (written here, as the exporter writes them) restored
/// into <c>MONGODB_URI</c> with the real restorer, including the verification export; documents per second and peak
/// memory of this process.
/// </summary>
public static class RestoreBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var documents = (int)BenchmarkOptions.Number(args, "--documents", 1_000_000);
        var inFlight = (int)BenchmarkOptions.Number(args, "--in-flight", 4); // insert batches in flight (1: the restorer before round two)
        // The stand-in copies a whole query result when a cursor opens: verifying 1,000,000 documents through it stalls it.
        var verify = !args.Contains("--no-verify");
        var folder = Path.Combine(Path.GetTempPath(), $"bench-restore-{Guid.NewGuid():N}");
        try
        {
            var directory = SnapshotPaths.CollectionDirectory("small");
            Directory.CreateDirectory(Path.Combine(folder, directory));
            var metadata = CanonicalJsonWriter.ToCanonicalJson(new MongoDB.Bson.BsonDocument
            {
                { "name", "small" }, { "type", "collection" }, { "options", new MongoDB.Bson.BsonDocument() }, { "indexes", new MongoDB.Bson.BsonArray() },
            }) + "\n";
            await File.WriteAllTextAsync(Path.Combine(folder, SnapshotPaths.MetadataFile(directory)), metadata);
            var writer = new CanonicalJsonWriter();
            CollectionEntry entry;
            using (var parts = new JsonLinesPartWriter(folder, directory, SnapshotExportOptions.DefaultPartSizeBytes))
            {
                for (var i = 0; i < documents; i++)
                {
                    writer.Reset();
                    writer.WriteLine(new MongoDB.Bson.BsonDocument { { "_id", i }, { "user", $"u{i}" }, { "n", i % 97 }, { "ok", i % 2 == 0 } }.ToBson());
                    parts.WriteLine(writer.Written);
                }

                var (partList, sha) = parts.Complete();
                var metadataBytes = System.Text.Encoding.UTF8.GetBytes(metadata);
                entry = new CollectionEntry("small", "collection", directory, parts.Documents, parts.Bytes, sha,
                    new FileEntry(SnapshotPaths.MetadataFile(directory), metadataBytes.Length, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(metadataBytes))), partList);
            }

            var manifest = new SnapshotManifest
            {
                SnapshotId = "20261126T040000Z", StartedAt = DateTimeOffset.UtcNow, FinishedAt = DateTimeOffset.UtcNow,
                Source = new SnapshotSource("bench", ["localhost"], null), Consistency = new SnapshotConsistency(SnapshotConsistency.None, null),
                Collections = [entry],
            };
            var uri = Environment.GetEnvironmentVariable("MONGODB_URI") ?? "mongodb://127.0.0.1:27017/";
            var database = $"bench_restore_{Guid.NewGuid():N}"[..25];
            var client = new MongoClient(uri);
            GC.Collect();
            var before = Process.GetCurrentProcess().WorkingSet64;
            var stopwatch = Stopwatch.StartNew();
            var cpuBefore = BenchmarkResult.ProcessCpuSeconds();
            var phases = new List<string>();
            var restored = await new SnapshotRestorer(NullLogger.Instance).RestoreAsync(folder, manifest, client, database, new RestoreOptions { VerifyAfterRestore = verify, BatchesInFlight = inFlight },
                line =>
                {
                    phases.Add($"{stopwatch.Elapsed.TotalSeconds:F0} s: {line}");
                    Console.WriteLine($"{phases[^1]} (peak working set so far {Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0:F0} MiB)");
                }, CancellationToken.None);
            var total = stopwatch.Elapsed.TotalSeconds;
            var cpu = BenchmarkResult.ProcessCpuSeconds() - cpuBefore;
            var process = Process.GetCurrentProcess();
            process.Refresh();
            var insertSeconds = double.Parse(phases[0].Split(' ')[0]);
            Console.WriteLine($"restored {restored.Single().Documents:N0} documents ({entry.Bytes / 1048576.0:F0} MiB of JSONL), verified: {restored.Single().Verified}");
            Console.WriteLine($"insert batches in flight: {inFlight}");
            Console.WriteLine($"insert phase {insertSeconds:F0} s = {documents / Math.Max(1, insertSeconds):N0} documents/s through this server; total with the verification export {total:F0} s");
            Console.WriteLine($"memory: working set {before / 1048576.0:F0} MiB before, peak working set {process.PeakWorkingSet64 / 1048576.0:F0} MiB");
            Console.WriteLine($"client CPU: {cpu:F1} s user+system for the restore{(verify ? " and its verification" : "")} = {cpu / (entry.Bytes / 1073741824.0):F1} CPU s per GiB of JSONL");
            BenchmarkResult.Report("restore.documents_per_second", documents / Math.Max(1, insertSeconds));
            BenchmarkResult.Report("restore.cpu_s_per_gib", cpu / (entry.Bytes / 1073741824.0));
            await client.DropDatabaseAsync(database);
            return 0;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}

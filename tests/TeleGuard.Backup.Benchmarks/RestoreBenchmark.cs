using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using MongoDB.Driver;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Benchmarks;

/// <summary>
/// The restore figure: a snapshot of many small documents (written here, as the exporter writes them) restored
/// into <c>MONGODB_URI</c> with the real restorer (lease, staging, swap; the verification export unless
/// <c>--no-verify</c>); documents per second, the client's CPU seconds and peak memory of this process. With
/// <c>MONGODB_URI</c> pointing at <c>mongo-absorb-inserts</c> the figure is the client's own ceiling.
/// </summary>
public static class RestoreBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var documents = (int)BenchmarkOptions.Number(args, "--documents", 1_000_000);
        var collections = (int)BenchmarkOptions.Number(args, "--collections", 1);
        var inFlight = (int)BenchmarkOptions.Number(args, "--in-flight", new RestoreOptions().BatchesInFlight);
        var parallel = (int)BenchmarkOptions.Number(args, "--parallel-collections", new RestoreOptions().ParallelCollections);
        // The stand-in copies a whole query result when a cursor opens: verifying 1,000,000 documents through it stalls it.
        var verify = !args.Contains("--no-verify");
        var folder = Path.Combine(Path.GetTempPath(), $"bench-restore-{Guid.NewGuid():N}");
        try
        {
            var manifest = await BenchSnapshots.WriteAsync(folder, documents, collections, BenchSnapshots.SmallDocument);
            var jsonBytes = manifest.Collections.Sum(c => c.Bytes);
            var uri = Environment.GetEnvironmentVariable("MONGODB_URI") ?? "mongodb://127.0.0.1:27017/";
            var database = $"bench_restore_{Guid.NewGuid():N}"[..25];
            var client = new MongoClient(uri);
            GC.Collect();
            var before = Process.GetCurrentProcess().WorkingSet64;
            var stopwatch = Stopwatch.StartNew();
            var cpuBefore = BenchmarkResult.ProcessCpuSeconds();
            var restored = await new SnapshotRestorer(NullLogger.Instance).RestoreAsync(folder, manifest, client, database,
                new RestoreOptions { VerifyAfterRestore = verify, BatchesInFlight = inFlight, ParallelCollections = parallel },
                line => Console.WriteLine($"{stopwatch.Elapsed.TotalSeconds:F2} s: {line} (peak working set so far {Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0:F0} MiB)"),
                CancellationToken.None);
            var seconds = stopwatch.Elapsed.TotalSeconds;
            var cpu = BenchmarkResult.ProcessCpuSeconds() - cpuBefore;
            var process = Process.GetCurrentProcess();
            process.Refresh();
            Console.WriteLine($"restored {restored.Sum(r => r.Documents):N0} documents in {collections} collections ({jsonBytes / 1048576.0:F0} MiB of JSONL), "
                + $"verified: {restored.All(r => r.Verified)}; {parallel} collections at once, {inFlight} insert batches in flight each");
            Console.WriteLine($"restore {seconds:F2} s{(verify ? " with the verification export" : "")} = {documents / seconds:N0} documents/s through {new MongoUrl(uri).Server}");
            Console.WriteLine($"memory: working set {before / 1048576.0:F0} MiB before, peak working set {process.PeakWorkingSet64 / 1048576.0:F0} MiB");
            Console.WriteLine($"client CPU: {cpu:F1} s user+system{(verify ? " with the verification" : "")} = {cpu / (jsonBytes / 1073741824.0):F1} CPU s per GiB of JSONL");
            BenchmarkResult.Report("restore.seconds", seconds);
            BenchmarkResult.Report("restore.documents_per_second", documents / seconds);
            BenchmarkResult.Report("restore.cpu_s_per_gib", cpu / (jsonBytes / 1073741824.0));
            BenchmarkResult.Report("restore.peak_mib", BenchmarkResult.PeakResidentMiB());
            await client.DropDatabaseAsync(database);
            return 0;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}

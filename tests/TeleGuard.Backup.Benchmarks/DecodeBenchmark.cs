using System.Diagnostics;
using MongoDB.Bson;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Benchmarks;

/// <summary>
/// The restore's client-side decode alone: a snapshot's JSONL decoded into the BSON a restore inserts (with the
/// count and SHA-256 checks), no server. One thread; MB/s of JSONL and documents/s.
/// </summary>
public static class DecodeBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var documents = (int)BenchmarkOptions.Number(args, "--documents", 1_000_000);
        var shape = args.Contains("--synthetic") ? "synthetic" : "small";
        var folder = Path.Combine(Path.GetTempPath(), $"bench-decode-{Guid.NewGuid():N}");
        try
        {
            var manifest = await BenchSnapshots.WriteAsync(folder, documents, collections: 1,
                i => shape == "small" ? BenchSnapshots.SmallDocument(i) : SyntheticDocuments.Create(i, 200));
            var collection = manifest.Collections.Single();
            for (var round = 0; round < 3; round++)
            {
                var cpuBefore = BenchmarkResult.ProcessCpuSeconds();
                var stopwatch = Stopwatch.StartNew();
                long bsonBytes = 0;
                await SnapshotContent.DecodeAsync(folder, manifest, collection, (bson, _) =>
                {
                    bsonBytes += new RawBsonDocument(bson.ToArray()).Slice.Length;
                    return ValueTask.CompletedTask;
                }, CancellationToken.None);
                var seconds = stopwatch.Elapsed.TotalSeconds;
                var cpu = BenchmarkResult.ProcessCpuSeconds() - cpuBefore;
                Console.WriteLine($"round {round + 1}: {documents:N0} {shape} documents, {collection.Bytes / 1048576.0:F1} MiB JSONL -> {bsonBytes / 1048576.0:F1} MiB BSON in {seconds:F2} s = "
                    + $"{collection.Bytes / 1e6 / seconds:F0} MB/s, {documents / seconds:N0} documents/s, {cpu:F2} CPU s");
                if (round == 2)
                {
                    BenchmarkResult.Report($"decode.{shape}.mb_per_second", collection.Bytes / 1e6 / seconds);
                    BenchmarkResult.Report($"decode.{shape}.documents_per_second", documents / seconds);
                }
            }

            return 0;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}

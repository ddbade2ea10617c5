using System.Diagnostics;
using System.Security.Cryptography;
using MongoDB.Bson;
using MongoDB.Bson.IO;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Benchmarks;

/// <summary>
/// The writer target: in-process BSON documents to canonical JSONL + SHA-256, one core. The documents are
/// prepared first (as the raw bytes the driver hands the exporter), then converted and hashed in a timed loop.
/// </summary>
public static class WriterBenchmark
{
    public static int Run(string[] args)
    {
        var megabytes = args.Length >= 2 && args[0] == "--mb" ? int.Parse(args[1]) : 512;
        var documents = new List<byte[]>();
        long bsonBytes = 0;
        for (var i = 0; bsonBytes < megabytes * 1024L * 1024; i++)
        {
            var bytes = SyntheticDocuments.Create(i, 300 + i % 700).ToBson();
            documents.Add(bytes);
            bsonBytes += bytes.Length;
        }

        Console.WriteLine($"documents: {documents.Count:N0}, BSON: {bsonBytes / 1048576.0:F0} MiB, average {bsonBytes / documents.Count} bytes");

        // Warm-up (JIT), then the measured pass.
        Convert(documents.Take(20_000).ToList());
        var (jsonBytes, seconds, hash) = Convert(documents);
        Console.WriteLine($"TeleGuard CanonicalJsonWriter + SHA-256: {jsonBytes / 1048576.0 / seconds:F0} MB/s of JSON ({bsonBytes / 1048576.0 / seconds:F0} MB/s of BSON), "
                          + $"{documents.Count / seconds:N0} documents/s, {jsonBytes / 1048576.0:F0} MiB JSON in {seconds:F2} s (sha256 {hash[..16]}…)");

        BenchmarkResult.Report("writer.json_mbps", jsonBytes / 1048576.0 / seconds);
        var sample = documents.Take(Math.Min(documents.Count, 200_000)).ToList();
        var (driverBytes, driverSeconds) = ConvertWithDriver(sample);
        Console.WriteLine($"MongoDB.Driver JsonWriter (canonical), for comparison: {driverBytes / 1048576.0 / driverSeconds:F0} MB/s of JSON on {sample.Count:N0} documents (no hashing)");
        BenchmarkResult.Report("writer.driver_json_mbps", driverBytes / 1048576.0 / driverSeconds);
        return 0;
    }

    private static (long Bytes, double Seconds, string Hash) Convert(List<byte[]> documents)
    {
        var writer = new CanonicalJsonWriter();
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long bytes = 0;
        var stopwatch = Stopwatch.StartNew();
        foreach (var document in documents)
        {
            writer.Reset();
            writer.WriteLine(document);
            sha.AppendData(writer.Written);
            bytes += writer.Length;
        }

        stopwatch.Stop();
        return (bytes, stopwatch.Elapsed.TotalSeconds, System.Convert.ToHexStringLower(sha.GetHashAndReset()));
    }

    private static (long Bytes, double Seconds) ConvertWithDriver(List<byte[]> documents)
    {
        var settings = new JsonWriterSettings { OutputMode = JsonOutputMode.CanonicalExtendedJson, Indent = false };
        long bytes = 0;
        var stopwatch = Stopwatch.StartNew();
        foreach (var document in documents)
        {
            using var raw = new RawBsonDocument(document);
            var json = raw.ToJson(settings);
            bytes += System.Text.Encoding.UTF8.GetByteCount(json) + 1;
        }

        return (bytes, stopwatch.Elapsed.TotalSeconds);
    }
}

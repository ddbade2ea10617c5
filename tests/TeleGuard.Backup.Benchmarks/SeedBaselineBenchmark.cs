using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.Crypto;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Benchmarks;

/// <summary>
/// BASELINE — the seed's approach, written in C# to be measured on the same data in the same run (not used by the
/// product): every collection read into memory, one JSON document built with <c>indent=2</c> and <c>default=str</c>
/// (ObjectId, dates, Decimal128… become strings: lossy), the whole file sealed with one AES-GCM call, then base64.
/// Compared with this project's path on the same database: streaming export to canonical JSONL, tar, gzip, streaming
/// AES-256-GCM to a file. Each runs in its own process (<c>seed-baseline</c>, <c>ours-baseline</c>) so peak memory is its own.
/// </summary>
public static class SeedBaselineBenchmark
{
    public static async Task<int> RunSeedAsync(string[] args)
    {
        var database = await OpenAsync(args);
        var stopwatch = Stopwatch.StartNew();
        var root = new JsonObject();
        // The same collections this project exports: not system collections, not its own artifact store (GridFS).
        foreach (var name in (await (await database.ListCollectionNamesAsync()).ToListAsync())
                 .Where(n => !n.StartsWith("system.", StringComparison.Ordinal) && !n.StartsWith("teleguard_artifacts", StringComparison.Ordinal)))
        {
            var documents = await database.GetCollection<BsonDocument>(name).Find(FilterDefinition<BsonDocument>.Empty).ToListAsync();
            root[name] = new JsonArray(documents.Select(d => ToNode(d)).ToArray());
        }

        var json = root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }); // json.dumps(indent=2, default=str)
        var plaintext = Encoding.UTF8.GetBytes(json);
        var key = RandomNumberGenerator.GetBytes(32);
        var nonce = RandomNumberGenerator.GetBytes(12);
        var ciphertext = new byte[plaintext.Length];
        var tag = new byte[16];
        using (var aes = new AesGcm(key, 16))
        {
            aes.Encrypt(nonce, plaintext, ciphertext, tag); // the whole file in one call
        }

        var base64 = Convert.ToBase64String([.. nonce, .. ciphertext, .. tag]);
        var seconds = stopwatch.Elapsed.TotalSeconds;
        Console.WriteLine($"BASELINE (seed's approach): JSON {plaintext.Length / 1048576.0:F1} MiB (indent=2, default=str), base64 output {base64.Length / 1048576.0:F1} MiB, "
                          + $"{seconds:F2} s, peak resident {BenchmarkResult.PeakResidentMiB():F0} MiB");
        BenchmarkResult.Report("seed.seconds", seconds);
        BenchmarkResult.Report("seed.output_mib", base64.Length / 1048576.0);
        BenchmarkResult.Report("seed.peak_mib", BenchmarkResult.PeakResidentMiB());
        return 0;
    }

    public static async Task<int> RunOursAsync(string[] args)
    {
        var database = await OpenAsync(args);
        var work = Path.Combine(Path.GetTempPath(), $"bench-ours-{Guid.NewGuid():N}");
        var output = work + ".tgb";
        try
        {
            var stopwatch = Stopwatch.StartNew();
            var exporter = new SnapshotExporter(database.Client, database.DatabaseNamespace.DatabaseName, NullLogger<SnapshotExporter>.Instance);
            var excluded = new HashSet<string> { "teleguard_artifacts.files", "teleguard_artifacts.chunks" }; // as the snapshot service does
            var manifest = await exporter.ExportAsync("20261126T040000Z", work, new SnapshotExportOptions { ExcludedCollections = excluded }, CancellationToken.None);
            var keys = new EncryptionKeyRing(RandomNumberGenerator.GetBytes(32), []);
            var pipe = new System.IO.Pipelines.Pipe();
            var produce = Task.Run(async () =>
            {
                await using (var gzip = new System.IO.Compression.GZipStream(pipe.Writer.AsStream(), System.IO.Compression.CompressionLevel.Optimal))
                {
                    await SnapshotArchive.WriteAsync(work, manifest, gzip, CancellationToken.None);
                }
            });
            await using (var file = File.Create(output))
            {
                await StreamingEncryption.EncryptAsync(pipe.Reader.AsStream(), file, keys, manifest.SnapshotId, CancellationToken.None);
            }

            await produce;
            var seconds = stopwatch.Elapsed.TotalSeconds;
            var size = new FileInfo(output).Length;
            Console.WriteLine($"TeleGuard: canonical JSONL {manifest.TotalBytes / 1048576.0:F1} MiB (lossless), tar + gzip + streaming AES-256-GCM {size / 1048576.0:F1} MiB, "
                              + $"{seconds:F2} s, peak resident {BenchmarkResult.PeakResidentMiB():F0} MiB");
            BenchmarkResult.Report("ours.seconds", seconds);
            BenchmarkResult.Report("ours.output_mib", size / 1048576.0);
            BenchmarkResult.Report("ours.peak_mib", BenchmarkResult.PeakResidentMiB());
            return 0;
        }
        finally
        {
            if (Directory.Exists(work))
            {
                Directory.Delete(work, true);
            }

            File.Delete(output);
        }
    }

    private static async Task<IMongoDatabase> OpenAsync(string[] args)
    {
        var megabytes = args.Length >= 2 && args[0] == "--mb" ? int.Parse(args[1]) : 100;
        var uri = await SourceDatabase.FillAsync(megabytes, padBytes: megabytes >= 1024 ? 10 * 1024 : 1024);
        return new MongoClient(uri).GetDatabase(MongoUrl.Create(uri).DatabaseName);
    }

    // Python's json.dump(default=str): JSON types stay, everything else becomes its str().
    private static JsonNode? ToNode(BsonValue value) => value switch
    {
        BsonDocument document => new JsonObject(document.Elements.Select(e => KeyValuePair.Create(e.Name, ToNode(e.Value)))),
        BsonArray array => new JsonArray(array.Select(ToNode).ToArray()),
        BsonString s => JsonValue.Create(s.Value),
        BsonInt32 i => JsonValue.Create(i.Value),
        BsonInt64 l => JsonValue.Create(l.Value),
        BsonDouble d => JsonValue.Create(d.Value),
        BsonBoolean b => JsonValue.Create(b.Value),
        BsonNull => null,
        BsonDateTime t => JsonValue.Create(t.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture)),
        _ => JsonValue.Create(value.ToString()),
    };
}

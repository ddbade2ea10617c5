using System.Security.Cryptography;
using System.Text;
using MongoDB.Bson;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Benchmarks;

/// <summary>Snapshot folders written here as the exporter writes them, for the restore and decode figures.</summary>
public static class BenchSnapshots
{
    /// <summary>The restore figure's document: an int _id, a string, an int, a bool (about 80 bytes of JSONL).</summary>
    public static BsonDocument SmallDocument(int i) => new() { { "_id", i }, { "user", $"u{i}" }, { "n", i % 97 }, { "ok", i % 2 == 0 } };

    /// <summary>
    /// Writes <paramref name="documents"/> documents spread over <paramref name="collections"/> collections
    /// (<c>small</c>, or <c>small_1</c>… when there are several) and returns the manifest.
    /// </summary>
    public static async Task<SnapshotManifest> WriteAsync(string folder, int documents, int collections, Func<int, BsonDocument> document)
    {
        var entries = new List<CollectionEntry>();
        var writer = new CanonicalJsonWriter();
        for (var c = 0; c < collections; c++)
        {
            var name = collections == 1 ? "small" : $"small_{c + 1}";
            var directory = SnapshotPaths.CollectionDirectory(name);
            Directory.CreateDirectory(Path.Combine(folder, directory));
            var metadata = CanonicalJsonWriter.ToCanonicalJson(new BsonDocument
            {
                { "name", name }, { "type", "collection" }, { "options", new BsonDocument() }, { "indexes", new BsonArray() },
            }) + "\n";
            await File.WriteAllTextAsync(Path.Combine(folder, SnapshotPaths.MetadataFile(directory)), metadata);
            using var parts = new JsonLinesPartWriter(folder, directory, SnapshotExportOptions.DefaultPartSizeBytes);
            using var bsonHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            for (var i = c; i < documents; i += collections)
            {
                var bson = document(i).ToBson();
                bsonHash.AppendData(bson);
                writer.Reset();
                writer.WriteLine(bson);
                parts.WriteLine(writer.Written);
            }

            var (partList, sha) = parts.Complete();
            var metadataBytes = Encoding.UTF8.GetBytes(metadata);
            entries.Add(new CollectionEntry(name, "collection", directory, parts.Documents, parts.Bytes, sha,
                new FileEntry(SnapshotPaths.MetadataFile(directory), metadataBytes.Length, Convert.ToHexStringLower(SHA256.HashData(metadataBytes))), partList,
                Convert.ToHexStringLower(bsonHash.GetHashAndReset())));
        }

        return new SnapshotManifest
        {
            SnapshotId = "20261126T040000Z", StartedAt = DateTimeOffset.UtcNow, FinishedAt = DateTimeOffset.UtcNow,
            Source = new SnapshotSource("bench", ["localhost"], null), Consistency = new SnapshotConsistency(SnapshotConsistency.None, null),
            Collections = entries,
        };
    }
}

using System.Security.Cryptography;
using System.Text;
using MongoDB.Bson;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.TestSupport;

/// <summary>
/// A snapshot folder written as the exporter writes one (canonical JSONL parts, metadata, the parts' and the BSON's
/// SHA-256) from documents a test or benchmark chooses, including ones no server would export (a crafted snapshot).
/// </summary>
public static class SnapshotFolders
{
    public static async Task<SnapshotManifest> WriteAsync(string folder, string snapshotId, IEnumerable<(string Name, IEnumerable<BsonDocument> Documents)> collections)
    {
        var entries = new List<CollectionEntry>();
        var writer = new CanonicalJsonWriter();
        foreach (var (name, documents) in collections)
        {
            var directory = SnapshotPaths.CollectionDirectory(name);
            Directory.CreateDirectory(Path.Combine(folder, directory));
            var metadata = CanonicalJsonWriter.ToCanonicalJson(new BsonDocument
            {
                { "name", name }, { "type", "collection" }, { "options", new BsonDocument() }, { "indexes", new BsonArray() },
            }) + "\n";
            await File.WriteAllTextAsync(Path.Combine(folder, SnapshotPaths.MetadataFile(directory)), metadata);
            using var parts = new JsonLinesPartWriter(folder, directory, SnapshotExportOptions.DefaultPartSizeBytes);
            using var bsonHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            foreach (var document in documents)
            {
                var bson = document.ToBson();
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
            SnapshotId = snapshotId, StartedAt = DateTimeOffset.UtcNow, FinishedAt = DateTimeOffset.UtcNow,
            Source = new SnapshotSource("crafted", ["localhost"], null), Consistency = new SnapshotConsistency(SnapshotConsistency.None, null),
            Collections = entries,
        };
    }
}

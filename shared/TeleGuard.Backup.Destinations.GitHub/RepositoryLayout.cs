using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Destinations.GitHub;

/// <summary>
/// The plain snapshot as it is committed (and where increments go): under <c>snapshot/</c>, the same relative paths as in the artifact, with no
/// file over <see cref="RepositoryFileLimit.MaxBytes"/>. When the artifact's parts are already small enough they are
/// used as they are; otherwise each collection is re-split at line boundaries and the manifest lists the new parts
/// (the collection's content hash does not change).
/// </summary>
public static class RepositoryLayout
{
    public const string Folder = "snapshot";

    /// <summary>Increments are kept beside the snapshots, one folder per base snapshot: <c>increments/BASE/ID.json</c> and <c>ID.jsonl</c>.</summary>
    public const string IncrementsFolder = "increments";

    public const string ManifestExtension = ".json";
    public const string EventsExtension = ".jsonl";

    /// <summary>The increment's manifest on the branch; its events are beside it with <see cref="EventsExtension"/>.</summary>
    public static string IncrementManifestPath(string baseSnapshotId, string incrementId) =>
        $"{IncrementsFolder}/{baseSnapshotId}/{incrementId}{ManifestExtension}";

    public static string IncrementEventsPath(string baseSnapshotId, string incrementId) =>
        $"{IncrementsFolder}/{baseSnapshotId}/{incrementId}{EventsExtension}";

    public static SnapshotManifest Prepare(string extracted, SnapshotManifest manifest, string output, long maxFileBytes)
    {
        if (manifest.Collections.SelectMany(c => c.Parts).All(p => p.Bytes <= maxFileBytes))
        {
            return manifest;
        }

        var collections = new List<CollectionEntry>();
        foreach (var collection in manifest.Collections)
        {
            Directory.CreateDirectory(Path.Combine(output, collection.Directory));
            File.Copy(Path.Combine(extracted, collection.Metadata.File), Path.Combine(output, collection.Metadata.File));
            using var writer = new JsonLinesPartWriter(output, collection.Directory, maxFileBytes);
            foreach (var part in collection.Parts)
            {
                using var input = File.OpenRead(Path.Combine(extracted, part.File));
                var reader = new JsonLinesReader(input);
                for (var line = reader.ReadLine(); !line.IsEmpty; line = reader.ReadLine())
                {
                    writer.WriteLine(line.Span);
                }
            }

            var (parts, sha256) = writer.Complete();
            if (sha256 != collection.Sha256)
            {
                throw new InvalidDataException($"Re-splitting {collection.Name} changed its content hash.");
            }

            collections.Add(collection with { Parts = parts });
        }

        var adjusted = manifest with { Collections = collections };
        File.WriteAllBytes(Path.Combine(output, SnapshotManifest.FileName), adjusted.ToJsonBytes());
        return adjusted;
    }
}

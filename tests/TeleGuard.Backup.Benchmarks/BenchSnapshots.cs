using MongoDB.Bson;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Benchmarks;

/// <summary>Snapshot folders written here as the exporter writes them, for the restore, decode and upload figures.</summary>
public static class BenchSnapshots
{
    /// <summary>The restore figure's document: an int _id, a string, an int, a bool (about 80 bytes of JSONL).</summary>
    public static BsonDocument SmallDocument(int i) => new() { { "_id", i }, { "user", $"u{i}" }, { "n", i % 97 }, { "ok", i % 2 == 0 } };

    /// <summary>
    /// Writes <paramref name="documents"/> documents spread over <paramref name="collections"/> collections
    /// (<c>small</c>, or <c>small_1</c>… when there are several) and returns the manifest.
    /// </summary>
    public static Task<SnapshotManifest> WriteAsync(string folder, int documents, int collections, Func<int, BsonDocument> document) =>
        SnapshotFolders.WriteAsync(folder, "20261126T040000Z", Enumerable.Range(0, collections).Select(c =>
            (collections == 1 ? "small" : $"small_{c + 1}", Every(c, collections, documents).Select(document))));

    private static IEnumerable<int> Every(int first, int step, int end)
    {
        for (var i = first; i < end; i += step)
        {
            yield return i;
        }
    }
}

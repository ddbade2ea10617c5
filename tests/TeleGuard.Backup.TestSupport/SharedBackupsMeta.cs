using MongoDB.Bson;
using MongoDB.Bson.IO;
using MongoDB.Driver;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;
using Xunit;

namespace TeleGuard.Backup.TestSupport;

/// <summary>
/// backups_meta as deployments have it: documents other programs wrote (the bot's earlier Python backup job, and odder
/// shapes), and snapshot records written before records carried <c>kind</c>.
/// </summary>
public static class SharedBackupsMeta
{
    /// <summary>
    /// Foreign documents, each a trap for some query of the store if it ever ran without its discriminator: ObjectId,
    /// int and sub-document ids (a FormatException for any read), and string ids that sort among snapshot ids: one in
    /// snapshot-id form with <c>status: "failed"</c>, a succeeded sink with a location and an artifact (it would be
    /// claimed for an alert, listed for retention, marked removed, taken as the latest copy, …), and a recent one with
    /// <c>status: "complete"</c> (it would hide a stale backup).
    /// </summary>
    public static IReadOnlyList<BsonDocument> ForeignDocuments(DateTimeOffset now) =>
    [
        new()
        {
            { "_id", ObjectId.GenerateNewId() }, { "timestamp", now.AddHours(-2).UtcDateTime }, { "status", "success" },
            { "file", $"backup_{now.AddHours(-2):yyyyMMdd_HHmmss}.json" }, { "size", 123 },
        },
        new()
        {
            { "_id", ObjectId.GenerateNewId() }, { "timestamp", now.AddHours(-1).UtcDateTime }, { "status", "failed" },
            { "error", "pymongo.errors.ServerSelectionTimeoutError: localhost:27017: [Errno 111] Connection refused" },
        },
        new() { { "_id", 7 }, { "kind", "bot.settings" }, { "sinks", "telegram" }, { "status", 3 } },
        new() { { "_id", new BsonDocument { { "job", "python" }, { "day", now.UtcDateTime.Date } } }, { "status", "success" } },
        new() { { "_id", $"backup_{now:yyyyMMdd}.json" }, { "status", "degraded" }, { "size", 99.5 } },
        new()
        {
            { "_id", SnapshotIds.FromTime(now.AddMinutes(-30)) }, { "timestamp", now.AddMinutes(-30).UtcDateTime }, { "status", "failed" },
            { "file", "backup_lookalike.json" },
            { "sinks", new BsonDocument(BackupSinks.GitHub, new BsonDocument { { "status", "succeeded" }, { "location", new BsonDocument("commit", "0123abc") } }) },
            { "artifact", new BsonDocument { { "location", "dir:lookalike.tar" }, { "size", 1L }, { "sha256", "00" } } },
        },
        new() { { "_id", SnapshotIds.FromTime(now.AddMinutes(-5)) }, { "timestamp", now.AddMinutes(-5).UtcDateTime }, { "status", "complete" } },
    ];

    /// <summary>A record as versions before <c>kind</c> wrote it: complete, its artifact since removed by retention.</summary>
    public static BsonDocument RecordWithoutKind(string snapshotId) => new()
    {
        { "_id", snapshotId },
        { "status", BackupStatus.Complete },
        { "requestedAt", SnapshotIds.ToTime(snapshotId).UtcDateTime },
        { "reason", "schedule" },
        { "sinks", new BsonDocument(BackupSinks.Telegram, new BsonDocument { { "status", "skipped" }, { "attempts", 1 } }) },
        { "updatedAt", SnapshotIds.ToTime(snapshotId).UtcDateTime },
        {
            "artifact", new BsonDocument
            {
                { "location", "gridfs:teleguard_artifacts/000000000000000000000000" }, { "size", 10L }, { "sha256", "00" },
                { "deletedAt", SnapshotIds.ToTime(snapshotId).AddHours(9).UtcDateTime },
            }
        },
        { "manifest", new BsonDocument { { "formatVersion", 1 }, { "consistency", "none" }, { "documents", 5L }, { "bytes", 50L }, { "collections", new BsonArray() } } },
    };

    /// <summary>Inserts the foreign documents; returns each one's BSON bytes as stored (by its <c>_id</c> as canonical Extended JSON).</summary>
    public static async Task<IReadOnlyDictionary<string, byte[]>> InsertForeignAsync(IMongoDatabase database, DateTimeOffset now)
    {
        var documents = ForeignDocuments(now);
        await database.GetCollection<BsonDocument>(BackupsMetaStore.CollectionName).InsertManyAsync(documents);
        return await ReadRawAsync(database, documents.Select(d => d["_id"]));
    }

    /// <summary>Every foreign document is still there, byte for byte as it was.</summary>
    public static async Task AssertForeignUnchangedAsync(IMongoDatabase database, IReadOnlyDictionary<string, byte[]> before)
    {
        var after = await ReadRawAsync(database, before.Keys.Select(k => BsonDocument.Parse(k)["_id"]));
        Assert.Equal(before.Count, after.Count);
        foreach (var (id, bytes) in before)
        {
            Assert.True(after.TryGetValue(id, out var now) && bytes.AsSpan().SequenceEqual(now), $"the foreign document {id} changed");
        }
    }

    private static async Task<IReadOnlyDictionary<string, byte[]>> ReadRawAsync(IMongoDatabase database, IEnumerable<BsonValue> ids)
    {
        var raw = await database.GetCollection<RawBsonDocument>(BackupsMetaStore.CollectionName)
            .Find(new BsonDocument("_id", new BsonDocument("$in", new BsonArray(ids)))).ToListAsync();
        return raw.ToDictionary(d => new BsonDocument("_id", d["_id"]).ToJson(new JsonWriterSettings { OutputMode = JsonOutputMode.CanonicalExtendedJson }), d =>
        {
            var bytes = new byte[d.Slice.Length];
            d.Slice.GetBytes(0, bytes, 0, bytes.Length);
            return bytes;
        });
    }
}

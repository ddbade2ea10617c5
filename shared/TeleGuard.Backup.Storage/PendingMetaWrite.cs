using MongoDB.Bson;

namespace TeleGuard.Backup.Storage;

/// <summary>One deferred <c>backups_meta</c> write: a sink's outcome, its retry error, or where its copy is.</summary>
public sealed record PendingMetaWrite(string Kind, string SnapshotId, string Sink, DateTime At, string? Status, string? Error, BsonDocument? Location)
{
    public const string Outcome = "outcome";
    public const string RetryError = "error";
    public const string SinkLocation = "location";

    public BsonDocument ToBsonDocument() => new()
    {
        { "kind", Kind },
        { "snapshotId", SnapshotId },
        { "sink", Sink },
        { "at", new BsonDateTime(At) },
        { "status", (BsonValue?)Status ?? BsonNull.Value },
        { "error", (BsonValue?)Error ?? BsonNull.Value },
        { "location", (BsonValue?)Location ?? BsonNull.Value },
    };

    /// <summary>The entry stored as <paramref name="json"/>, or null when it is not one (a damaged entry is never replayed).</summary>
    public static PendingMetaWrite? TryParse(string json)
    {
        try
        {
            return FromBsonDocument(BsonDocument.Parse(json));
        }
        catch (Exception e) when (e is FormatException or InvalidCastException or KeyNotFoundException or ArgumentException)
        {
            return null;
        }
    }

    public static PendingMetaWrite FromBsonDocument(BsonDocument document) => new(
        document["kind"].AsString,
        document["snapshotId"].AsString,
        document["sink"].AsString,
        document["at"].ToUniversalTime(),
        document["status"].IsBsonNull ? null : document["status"].AsString,
        document["error"].IsBsonNull ? null : document["error"].AsString,
        document["location"].IsBsonNull ? null : document["location"].AsBsonDocument);
}

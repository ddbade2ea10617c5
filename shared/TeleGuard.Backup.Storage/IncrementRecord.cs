using MongoDB.Bson;
using MongoDB.Bson.Serialization.Attributes;

namespace TeleGuard.Backup.Storage;

/// <summary>
/// One increment's document in <c>backups_meta</c> (<c>kind: "teleguard.increment"</c>, <c>_id</c> = increment id): its
/// manifest's fields, where the artifact is, and the resume token the change stream continues from after it.
/// </summary>
[BsonIgnoreExtraElements]
public sealed class IncrementRecord
{
    public const string IncrementKind = "teleguard.increment";

    [BsonId] public string Id { get; set; } = "";
    [BsonElement("kind")] public string Kind { get; set; } = IncrementKind;
    [BsonElement("database")] public string Database { get; set; } = "";
    [BsonElement("chain")] public string Chain { get; set; } = "";
    [BsonElement("sequence")] public int Sequence { get; set; }
    [BsonElement("baseSnapshotId")] public string BaseSnapshotId { get; set; } = "";
    [BsonElement("from")] public BsonTimestamp From { get; set; } = new(0);
    [BsonElement("to")] public BsonTimestamp To { get; set; } = new(0);
    [BsonElement("events")] public long Events { get; set; }

    /// <summary>The cluster time of its last event (null when it has none).</summary>
    [BsonElement("lastEventTime")] [BsonIgnoreIfNull] public BsonTimestamp? LastEventTime { get; set; }
    [BsonElement("sha256")] public string Sha256 { get; set; } = "";
    [BsonElement("previousSha256")] public string? PreviousSha256 { get; set; }
    [BsonElement("closedAt")] public DateTime ClosedAt { get; set; }
    [BsonElement("artifact")] public ArtifactRecord Artifact { get; set; } = new();

    /// <summary>Where the change stream continues after this increment (the server's opaque token; it encodes the last event's document key, data of the database itself).</summary>
    [BsonElement("resumeToken")] public BsonDocument ResumeToken { get; set; } = [];

    /// <summary>When IncrementCreated was published; null after a crash between recording and announcing.</summary>
    [BsonElement("announcedAt")] public DateTime? AnnouncedAt { get; set; }

    /// <summary>The recorder instance that wrote it.</summary>
    [BsonElement("recorder")] public string Recorder { get; set; } = "";

    /// <summary>Each destination's copy of the increment, as for a snapshot (status, attempts, error, where it is).</summary>
    [BsonElement("sinks")] public Dictionary<string, SinkRecord> Sinks { get; set; } = [];
}

using MongoDB.Bson;
using MongoDB.Bson.Serialization.Attributes;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Storage;

/// <summary>
/// One snapshot's document in <c>backups_meta</c>; <c>_id</c> is the snapshot id. <see cref="Kind"/> tells it apart from
/// documents that other programs keep in the same collection.
/// </summary>
[BsonIgnoreExtraElements]
public sealed class BackupRecord
{
    /// <summary>The <c>kind</c> of every document this product writes to backups_meta.</summary>
    public const string SnapshotKind = "teleguard.snapshot";

    [BsonId] public string Id { get; set; } = "";
    [BsonElement("kind")] public string Kind { get; set; } = SnapshotKind;
    [BsonElement("status")] public string Status { get; set; } = BackupStatus.Requested;
    [BsonElement("reason")] public string? Reason { get; set; }
    [BsonElement("requestedAt")] public DateTime? RequestedAt { get; set; }
    [BsonElement("createdAt")] public DateTime? CreatedAt { get; set; }

    /// <summary>When SnapshotCreated was published; null after a crash between recording and announcing.</summary>
    [BsonElement("announcedAt")] public DateTime? AnnouncedAt { get; set; }

    /// <summary>Until when one export runner holds the late announcement of a snapshot recorded but never announced.</summary>
    [BsonElement("announceClaimedUntil")] [BsonIgnoreIfNull] public DateTime? AnnounceClaimedUntil { get; set; }
    [BsonElement("updatedAt")] public DateTime? UpdatedAt { get; set; }
    [BsonElement("error")] public string? Error { get; set; }

    /// <summary>When an alert about this snapshot's outcome (degraded or failed) was raised.</summary>
    [BsonElement("alertedAt")] public DateTime? AlertedAt { get; set; }
    [BsonElement("export")] public ExportState? Export { get; set; }
    [BsonElement("artifact")] public ArtifactRecord? Artifact { get; set; }
    [BsonElement("manifest")] public ManifestSummary? Manifest { get; set; }
    [BsonElement("sinks")] public Dictionary<string, SinkRecord> Sinks { get; set; } = [];

    /// <summary>Restore drills of this snapshot, per destination: fetched and verified, or why not.</summary>
    [BsonElement("drills")] public Dictionary<string, DrillRecord> Drills { get; set; } = [];

    /// <summary>When the snapshot's data was read; for records written before that was kept, the time in its id.</summary>
    [BsonIgnore]
    public DateTimeOffset DataTime => Manifest?.DataTime is { } time
        ? new DateTimeOffset(DateTime.SpecifyKind(time, DateTimeKind.Utc))
        : SnapshotIds.TryParse(Id, out var fromId) ? fromId : DateTimeOffset.MinValue;
}

[BsonIgnoreExtraElements]
public sealed class DrillRecord
{
    [BsonElement("at")] public DateTime At { get; set; }
    [BsonElement("ok")] public bool Ok { get; set; }
    [BsonElement("error")] public string? Error { get; set; }
}

[BsonIgnoreExtraElements]
public sealed class ExportState
{
    [BsonElement("owner")] public string? Owner { get; set; }
    [BsonElement("leaseUntil")] public DateTime? LeaseUntil { get; set; }
    [BsonElement("attempts")] public int Attempts { get; set; }
    [BsonElement("startedAt")] public DateTime? StartedAt { get; set; }

    /// <summary>When the snapshot service accepted the request (and acknowledged its message).</summary>
    [BsonElement("queuedAt")] public DateTime? QueuedAt { get; set; }
}

[BsonIgnoreExtraElements]
public sealed class ArtifactRecord
{
    [BsonElement("location")] public string Location { get; set; } = "";
    [BsonElement("size")] public long Size { get; set; }
    [BsonElement("sha256")] public string Sha256 { get; set; } = "";

    /// <summary>Set when retention removed the artifact from the store (the destinations keep their copies).</summary>
    [BsonElement("deletedAt")] public DateTime? DeletedAt { get; set; }
}

[BsonIgnoreExtraElements]
public sealed class ManifestSummary
{
    [BsonElement("formatVersion")] public int FormatVersion { get; set; }
    [BsonElement("consistency")] public string Consistency { get; set; } = "";

    /// <summary>Why a replica set's snapshot is <c>none</c> (it fell back from its snapshot session); null otherwise.</summary>
    [BsonElement("consistencyReason")] [BsonIgnoreIfNull] public string? ConsistencyReason { get; set; }

    // BsonValue-typed properties: without BsonIgnoreIfNull the driver writes null as {_csharpnull: true}, a document that
    // "$exists" and "$ne: null" both match. Records written that way are still read back as null.
    [BsonElement("clusterTime")] [BsonIgnoreIfNull] public BsonTimestamp? ClusterTime { get; set; }

    /// <summary>When the data was read (see <c>SnapshotManifest.DataTime</c>): "latest" sorts by it. Null in older records.</summary>
    [BsonElement("dataTime")] public DateTime? DataTime { get; set; }
    [BsonElement("documents")] public long Documents { get; set; }
    [BsonElement("bytes")] public long Bytes { get; set; }
    [BsonElement("collections")] public List<CollectionSummary> Collections { get; set; } = [];

    /// <summary>Collections the export could not take, and why: the snapshot does not hold them.</summary>
    [BsonElement("skipped")] public List<SkippedCollectionSummary> Skipped { get; set; } = [];
}

[BsonIgnoreExtraElements]
public sealed class SkippedCollectionSummary
{
    [BsonElement("name")] public string Name { get; set; } = "";
    [BsonElement("type")] public string Type { get; set; } = "";
    [BsonElement("reason")] public string Reason { get; set; } = "";
}

[BsonIgnoreExtraElements]
public sealed class CollectionSummary
{
    [BsonElement("name")] public string Name { get; set; } = "";
    [BsonElement("documents")] public long Documents { get; set; }
    [BsonElement("bytes")] public long Bytes { get; set; }
    [BsonElement("sha256")] public string Sha256 { get; set; } = "";
}

/// <summary>A destination's result for one snapshot. <see cref="LocationAs{T}"/> says where the copy is (commit, message ids...).</summary>
[BsonIgnoreExtraElements]
public sealed class SinkRecord
{
    [BsonElement("status")] public string Status { get; set; } = "";
    [BsonElement("at")] public DateTime? At { get; set; }

    /// <summary>When the last attempt started (so <c>at − startedAt</c> is how long the copy took).</summary>
    [BsonElement("startedAt")] public DateTime? StartedAt { get; set; }
    [BsonElement("attempts")] public int Attempts { get; set; }
    [BsonElement("error")] public string? Error { get; set; }

    /// <summary>An increment parked at this destination (status <c>waiting</c>) waits for its predecessor since then.</summary>
    [BsonElement("waitingSince")] public DateTime? WaitingSince { get; set; }

    /// <summary>When a parked increment was last sent again to be woken, or an increment announced again (at most one send per claim).</summary>
    [BsonElement("wokenAt")] public DateTime? WokenAt { get; set; }

    [BsonElement("announcedAgainAt")] public DateTime? AnnouncedAgainAt { get; set; }

    /// <summary>
    /// Where the copy is, as stored (status --json shows it whole). The destination that wrote it reads it as its own
    /// type with <see cref="LocationAs{T}"/>.
    /// </summary>
    [BsonElement("location")] [BsonIgnoreIfNull] public BsonDocument? LocationDocument { get; set; }

    /// <summary>The instance making the copy now, and until when its claim holds (absent once an outcome is recorded).</summary>
    [BsonElement("owner")] public string? Owner { get; set; }
    [BsonElement("leaseUntil")] public DateTime? LeaseUntil { get; set; }

    /// <summary>When retention removed this copy from the destination (the record of where it was stays).</summary>
    [BsonElement("removedAt")] public DateTime? RemovedAt { get; set; }

    /// <summary>What retention removed and what the destination refused to remove, as stored; read it with <see cref="RemovalAs{T}"/>.</summary>
    [BsonElement("removal")] [BsonIgnoreIfNull] public BsonDocument? RemovalDocument { get; set; }

    /// <summary>Messages left in the destination outside the copy (an attempt that lost its lease); retention deletes them with it.</summary>
    [BsonElement("orphanMessageIds")] public List<int>? OrphanMessageIds { get; set; }

    /// <summary>The destination's last cleanup, recorded on the snapshot it keeps (done, or postponed and why).</summary>
    [BsonElement("cleanup")] public CleanupRecord? Cleanup { get; set; }

    /// <summary>Where the copy is, read as the type of the destination that wrote it; null when nothing is recorded.</summary>
    /// <exception cref="FormatException">The recorded location does not have the shape of <typeparamref name="T"/>.</exception>
    public T? LocationAs<T>() where T : SinkLocation => SinkDocument.Read<T>(LocationDocument);

    /// <summary>What retention removed, read as the type of the destination that removed it; null when nothing is recorded.</summary>
    /// <exception cref="FormatException">The recorded removal does not have the shape of <typeparamref name="T"/>.</exception>
    public T? RemovalAs<T>() where T : SinkRemoval => SinkDocument.Read<T>(RemovalDocument);
}

/// <summary>A destination's cleanup (compaction, retention) as <c>status</c> shows it.</summary>
[BsonIgnoreExtraElements]
public sealed class CleanupRecord
{
    public const string Done = "done";
    public const string Postponed = "postponed";

    [BsonElement("status")] public string Status { get; set; } = "";
    [BsonElement("at")] public DateTime At { get; set; }
    [BsonElement("reason")] public string? Reason { get; set; }
}

using MongoDB.Bson;
using MongoDB.Bson.Serialization.Attributes;

namespace TeleGuard.Backup.Storage;

/// <summary>
/// A break in the change history (<c>kind: "teleguard.gap"</c>, <c>_id</c> = <c>gap:CHAIN</c>): the chain could not be
/// continued after <see cref="CoveredTo"/>, so no point-in-time restore is possible between then and the first
/// snapshot of the next chain.
/// </summary>
[BsonIgnoreExtraElements]
public sealed class HistoryGapRecord
{
    public const string GapKind = "teleguard.gap";

    [BsonId] public string Id { get; set; } = "";
    [BsonElement("kind")] public string Kind { get; set; } = GapKind;
    [BsonElement("database")] public string Database { get; set; } = "";

    /// <summary>The chain that ended (or could not start: its snapshot was already older than the server's history).</summary>
    [BsonElement("chain")] public string Chain { get; set; } = "";

    /// <summary>The last cluster time the ended chain covers; the gap runs from here to the next chain's snapshot.</summary>
    [BsonElement("coveredTo")] [BsonIgnoreIfNull] public BsonTimestamp? CoveredTo { get; set; }
    [BsonElement("detectedAt")] public DateTime DetectedAt { get; set; }
    [BsonElement("reason")] public string Reason { get; set; } = "";

    /// <summary>The full snapshot asked for to start the next chain.</summary>
    [BsonElement("requestedSnapshotId")] public string? RequestedSnapshotId { get; set; }

    /// <summary>When the alert about it went out.</summary>
    [BsonElement("alertedAt")] public DateTime? AlertedAt { get; set; }

    /// <summary>The chain that started after the gap, once it has.</summary>
    [BsonElement("nextChain")] public string? NextChain { get; set; }

    public static string IdOf(string database, string chain) => $"gap:{database}:{chain}";
}

using MongoDB.Bson.Serialization.Attributes;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>
/// One batch of increments sent to the channel as one document (split into parts like a snapshot when large): its own
/// record in <c>backups_meta</c> (<c>kind: "teleguard.telegram.batch"</c>, <c>_id</c> = <c>increments-</c> + the first
/// increment's id). Which increments it holds is fixed when it is created, before anything is sent, so a batch that a
/// crash interrupted is continued with the same increments, and no increment is ever in two batches.
/// </summary>
[BsonIgnoreExtraElements]
public sealed class TelegramIncrementBatch
{
    public const string BatchKind = "teleguard.telegram.batch";
    public const string Sending = "sending";
    public const string Sent = "sent";
    public const string Failed = "failed";

    private const string LocationElement = "location";

    /// <summary>Where in the record every part's message id is.</summary>
    public const string PartMessageIdPath = $"{LocationElement}.{TelegramLocation.PartMessageIdPath}";

    /// <summary>Where in the record the open send intent is.</summary>
    public const string SendingPath = $"{LocationElement}.sending";

    [BsonId] public string Id { get; set; } = "";
    [BsonElement("kind")] public string Kind { get; set; } = BatchKind;
    [BsonElement("database")] public string Database { get; set; } = "";

    /// <summary>The increments it holds, in chain order (the order of the archive's entries).</summary>
    [BsonElement("incrementIds")] public List<string> IncrementIds { get; set; } = [];

    /// <summary>
    /// <see cref="Sending"/> until every part is recorded, then <see cref="Sent"/>; <see cref="Failed"/> when it never
    /// will be (its increments are recorded failed; any part it had sent is only deleted by retention).
    /// </summary>
    [BsonElement("status")] public string Status { get; set; } = Sending;

    /// <summary>Attempts that failed so far, and the last one's error (a failed batch's: why it failed).</summary>
    [BsonElement("failedAttempts")] public int FailedAttempts { get; set; }
    [BsonElement("error"), BsonIgnoreIfNull] public string? Error { get; set; }

    /// <summary>The instance sending it: progress is recorded only by it (another that continues the batch takes it over).</summary>
    [BsonElement("owner")] public string Owner { get; set; } = "";
    [BsonElement("createdAt")] public DateTime CreatedAt { get; set; }
    [BsonElement("sentAt"), BsonIgnoreIfNull] public DateTime? SentAt { get; set; }

    /// <summary>The archive and its parts, as for a snapshot; null until the archive was made.</summary>
    [BsonElement(LocationElement), BsonIgnoreIfNull] public TelegramLocation? Location { get; set; }

    /// <summary>Messages sent outside the batch's parts (a superseded archive, an attempt that lost the batch): deleted with it.</summary>
    [BsonElement("orphanMessageIds")] public List<int> OrphanMessageIds { get; set; } = [];

    /// <summary>When retention deleted its messages, and what it did.</summary>
    [BsonElement("removedAt"), BsonIgnoreIfNull] public DateTime? RemovedAt { get; set; }
    [BsonElement("removal"), BsonIgnoreIfNull] public TelegramRemoval? Removal { get; set; }

    /// <summary>The id of the batch that starts with <paramref name="firstIncrementId"/>.</summary>
    public static string IdFor(string firstIncrementId) => $"increments-{firstIncrementId}";
}

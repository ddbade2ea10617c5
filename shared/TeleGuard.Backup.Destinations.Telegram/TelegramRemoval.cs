using MongoDB.Bson.Serialization.Attributes;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>What retention did to a copy's messages (<c>sinks.telegram.removal</c>): deleted, left in the channel and why, searched for orphans.</summary>
public sealed class TelegramRemoval : SinkRemoval
{
    [BsonElement("deletedMessageIds")] public List<int> DeletedMessageIds { get; set; } = [];

    /// <summary>Messages a bot could not delete (too old, or in another chat): an administrator deletes them by hand.</summary>
    [BsonElement("undeletableMessageIds")] public List<int> UndeletableMessageIds { get; set; } = [];

    /// <summary>The ranges of message ids (from the copy's gaps) whose unrecorded messages were deleted.</summary>
    [BsonElement("orphanRanges")] public List<TelegramIdRange> OrphanRanges { get; set; } = [];

    /// <summary>Why messages stayed; null when none did.</summary>
    [BsonElement("reason")] public string? Reason { get; set; }
}

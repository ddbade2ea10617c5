using MongoDB.Bson.Serialization.Attributes;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>One part of a copy, sent as one message: <see cref="Index"/> of the archive's parts, counted from 1.</summary>
[BsonIgnoreExtraElements]
public sealed class TelegramPart
{
    internal const string MessageIdElement = "messageId";

    [BsonElement("index")] public int Index { get; set; }
    [BsonElement(MessageIdElement)] public int MessageId { get; set; }

    /// <summary>What getFile downloads it by.</summary>
    [BsonElement("fileId")] public string FileId { get; set; } = "";
    [BsonElement("size")] public long Size { get; set; }
    [BsonElement("sha256")] public string Sha256 { get; set; } = "";

    /// <summary>When Telegram accepted it (a bot can delete it for 48 hours from then).</summary>
    [BsonElement("sentAt")] public DateTime SentAt { get; set; }
}

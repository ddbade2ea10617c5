using MongoDB.Bson.Serialization.Attributes;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>The message ids strictly between <see cref="After"/> and <see cref="Before"/>.</summary>
[BsonIgnoreExtraElements]
public sealed class TelegramIdRange
{
    [BsonElement("after")] public int After { get; set; }
    [BsonElement("before")] public int Before { get; set; }
}

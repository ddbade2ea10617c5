using MongoDB.Bson.Serialization.Attributes;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>
/// Message ids strictly between <see cref="After"/> and <see cref="Before"/>, where a part that an ended attempt was
/// sending may be (Telegram may have accepted it without the attempt recording it): retention deletes the ids no copy
/// recorded. <see cref="Before"/> is null until the next part is sent; retention then bounds it by the channel's position.
/// </summary>
[BsonIgnoreExtraElements]
public sealed class TelegramGap
{
    [BsonElement("after")] public int After { get; set; }
    [BsonElement("before")] public int? Before { get; set; }

    /// <summary>When the interrupted part was about to be sent (its message, if any, is deletable for 48 hours from about then).</summary>
    [BsonElement("at")] public DateTime At { get; set; }
}

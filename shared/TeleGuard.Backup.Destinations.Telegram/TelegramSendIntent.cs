using MongoDB.Bson.Serialization.Attributes;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>
/// A part about to be sent, recorded before it goes. Its message will have an id above <see cref="After"/> (channel
/// message ids are sequential), so if the attempt ends before recording the part, the message can still be found.
/// </summary>
[BsonIgnoreExtraElements]
public sealed class TelegramSendIntent
{
    [BsonElement("index")] public int Index { get; set; }

    /// <summary>The highest message id known when the intent was recorded.</summary>
    [BsonElement("after")] public int After { get; set; }
    [BsonElement("at")] public DateTime At { get; set; }
}

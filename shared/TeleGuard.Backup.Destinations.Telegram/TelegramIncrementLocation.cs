using MongoDB.Bson.Serialization.Attributes;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>Where an increment's copy in the channel is (<c>sinks.telegram.location</c> of its record): the batch that holds it.</summary>
public sealed class TelegramIncrementLocation : SinkLocation
{
    [BsonElement("batchId")] public string BatchId { get; set; } = "";
    [BsonElement("chatId")] public string ChatId { get; set; } = "";

    /// <summary>The batch's messages (its parts, in order).</summary>
    [BsonElement("messageIds")] public List<int> MessageIds { get; set; } = [];
}

using MongoDB.Bson.Serialization.Attributes;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>
/// Where a snapshot's copy in the channel is (<c>sinks.telegram.location</c>), recorded while it is being sent as well:
/// bots cannot read a channel's history, so this record is the only way back to the messages. It holds the archive that
/// was split, every part sent so far, the part being sent (<see cref="Sending"/>), and the ranges of message ids where a
/// part Telegram accepted before a crash may be (<see cref="Gaps"/>): retention deletes all of them with the copy.
/// </summary>
public sealed class TelegramLocation : SinkLocation
{
    private const string PartsElement = "parts";

    /// <summary>Where in the location every part's message id is (for finding the copies that recorded some ids).</summary>
    public const string PartMessageIdPath = $"{PartsElement}.{TelegramPart.MessageIdElement}";

    /// <summary>The chat the parts were sent to: message ids mean something only there.</summary>
    [BsonElement("chatId"), BsonIgnoreIfNull] public string? ChatId { get; set; }
    [BsonElement("archiveSize")] public long ArchiveSize { get; set; }
    [BsonElement("archiveSha256")] public string ArchiveSha256 { get; set; } = "";
    [BsonElement("partSize")] public long PartSize { get; set; }
    [BsonElement("partCount")] public int PartCount { get; set; }

    /// <summary>Whether the archive is encrypted (with <see cref="KeyId"/>); false in copies made before encryption existed.</summary>
    [BsonElement("encrypted")] public bool Encrypted { get; set; }

    /// <summary>The parts sent and recorded, by index.</summary>
    [BsonElement(PartsElement)] public List<TelegramPart> Parts { get; set; } = [];

    [BsonElement("gaps")] public List<TelegramGap> Gaps { get; set; } = [];
    [BsonElement("keyId"), BsonIgnoreIfNull] public string? KeyId { get; set; }

    /// <summary>The part being sent now, recorded before it goes; absent between parts and once the copy is done.</summary>
    [BsonElement("sending"), BsonIgnoreIfNull] public TelegramSendIntent? Sending { get; set; }

    /// <summary>Every part's message id, by index: set once all parts are sent.</summary>
    [BsonElement("messageIds"), BsonIgnoreIfNull] public List<int>? MessageIds { get; set; }
}

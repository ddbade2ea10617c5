using MongoDB.Bson.Serialization.Attributes;

namespace TeleGuard.Backup.Storage.Tests;

/// <summary>A location as a destination's library would define one: what the store keeps for any destination.</summary>
public sealed class ExampleLocation : SinkLocation
{
    [BsonElement("commit"), BsonIgnoreIfNull] public string? Commit { get; set; }
    [BsonElement("parts"), BsonIgnoreIfNull] public List<int>? Parts { get; set; }
}

using MongoDB.Bson.Serialization.Attributes;

namespace TeleGuard.Backup.Storage.Tests;

/// <summary>A removal as a destination's library would define one.</summary>
public sealed class ExampleRemoval : SinkRemoval
{
    [BsonElement("deletedMessageIds")] public List<int> DeletedMessageIds { get; set; } = [];
}

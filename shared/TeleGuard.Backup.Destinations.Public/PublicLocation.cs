using MongoDB.Bson.Serialization.Attributes;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations.Public;

/// <summary>
/// Where a snapshot's encrypted copy on the public branch is (<c>sinks.public.location</c>): the commit that added it,
/// its files, and the key it is encrypted with.
/// </summary>
public sealed class PublicLocation : SinkLocation
{
    [BsonElement("repository"), BsonIgnoreIfNull] public string? Repository { get; set; }
    [BsonElement("branch"), BsonIgnoreIfNull] public string? Branch { get; set; }
    [BsonElement("commit"), BsonIgnoreIfNull] public string? Commit { get; set; }

    /// <summary>Its encrypted file(s) on the branch, in order (<c>snapshots/ID.tgb</c>, or its parts).</summary>
    [BsonElement("files")] public List<string> Files { get; set; } = [];

    /// <summary>Bytes of the encrypted file, all parts together.</summary>
    [BsonElement("size"), BsonIgnoreIfNull] public long? Size { get; set; }
    [BsonElement("sha256"), BsonIgnoreIfNull] public string? Sha256 { get; set; }
    [BsonElement("keyId"), BsonIgnoreIfNull] public string? KeyId { get; set; }
}

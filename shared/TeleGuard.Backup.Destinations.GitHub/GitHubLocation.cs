using MongoDB.Bson.Serialization.Attributes;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations.GitHub;

/// <summary>Where a snapshot's copy in the private repository is (<c>sinks.github.location</c>): the commit holding it.</summary>
public sealed class GitHubLocation : SinkLocation
{
    [BsonElement("repository"), BsonIgnoreIfNull] public string? Repository { get; set; }
    [BsonElement("branch"), BsonIgnoreIfNull] public string? Branch { get; set; }

    /// <summary>The commit whose <c>snapshot/</c> folder holds the snapshot; it follows the snapshot when the branch is rewritten.</summary>
    [BsonElement("commit"), BsonIgnoreIfNull] public string? Commit { get; set; }

    /// <summary>Set on the snapshot compaction kept, once the branch was replaced by this one commit.</summary>
    [BsonElement("compactedAt"), BsonIgnoreIfNull] public DateTime? CompactedAt { get; set; }
}

using MongoDB.Bson.Serialization.Attributes;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations.GitHub;

/// <summary>Why a copy recorded as succeeded counts as removed (<c>sinks.github.removal</c>): it was not on the branch any more.</summary>
public sealed class GitHubRemoval : SinkRemoval
{
    [BsonElement("missing"), BsonIgnoreIfNull] public string? Missing { get; set; }
}

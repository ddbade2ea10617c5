using System.Globalization;
using MongoDB.Bson;

namespace TeleGuard.Backup.Destinations;

/// <summary>
/// Pieces of "where the copy is" in words, for destinations to compose in <see cref="IBackupDestination.DescribeCopy"/>.
/// The location comes from backups_meta: every piece is optional and only read when it has the expected type.
/// </summary>
public static class CopyDescription
{
    public static string Join(params string?[] pieces)
    {
        var words = pieces.Where(p => !string.IsNullOrEmpty(p)).ToList();
        return words.Count > 0 ? string.Join("; ", words) : "recorded";
    }

    /// <summary>"commit abc123def456 on branch b of repository".</summary>
    public static string? Commit(BsonDocument location) => Text(location, "commit") is { } commit
        ? $"commit {commit[..Math.Min(12, commit.Length)]} on branch {Text(location, "branch") ?? "?"} of {Text(location, "repository") ?? "the repository"}"
        : null;

    /// <summary>"file x" or "files x, y, z and 2 more".</summary>
    public static string? Files(BsonDocument location) =>
        location.TryGetValue("files", out var files) && files is BsonArray list && list.Count > 0
            ? list.Count == 1 ? $"file {list[0]}" : $"files {string.Join(", ", list.Take(3))}{(list.Count > 3 ? $" and {list.Count - 3} more" : "")}"
            : null;

    /// <summary>"2 of 3 parts as messages 10, 11 in chat -100…".</summary>
    public static string? Messages(BsonDocument location)
    {
        if (!location.TryGetValue("parts", out var parts) || parts is not BsonArray list)
        {
            return null;
        }

        var ids = list.OfType<BsonDocument>().Where(p => p.Contains("messageId")).Select(p => p["messageId"].ToString()).ToList();
        var expected = location.GetValue("partCount", ids.Count).ToInt32();
        return $"{ids.Count} of {expected} parts as messages {(ids.Count == 0 ? "(none yet)" : string.Join(", ", ids))} in chat {Text(location, "chatId") ?? "?"}";
    }

    public static string? Size(BsonDocument location) =>
        location.TryGetValue("size", out var size) && size.IsNumeric ? string.Create(CultureInfo.InvariantCulture, $"{size.ToInt64()} bytes") : null;

    public static string? Key(BsonDocument location) => Text(location, "keyId") is { } keyId ? $"encrypted with key {keyId}" : null;

    private static string? Text(BsonDocument document, string name) =>
        document.TryGetValue(name, out var value) && value.IsString ? value.AsString : null;
}

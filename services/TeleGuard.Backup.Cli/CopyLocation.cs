using System.Globalization;
using MongoDB.Bson;

namespace TeleGuard.Backup.Cli;

/// <summary>Where a destination's copy is, in words: a commit on a branch of a repository, files, message ids.</summary>
public static class CopyLocation
{
    public static string Describe(BsonDocument location)
    {
        var words = new List<string>();
        if (Text(location, "commit") is { } commit)
        {
            words.Add($"commit {commit[..Math.Min(12, commit.Length)]} on branch {Text(location, "branch") ?? "?"} of {Text(location, "repository") ?? "the repository"}");
        }

        if (location.TryGetValue("files", out var files) && files is BsonArray fileList && fileList.Count > 0)
        {
            words.Add(fileList.Count == 1 ? $"file {fileList[0]}" : $"files {string.Join(", ", fileList.Take(3))}{(fileList.Count > 3 ? $" and {fileList.Count - 3} more" : "")}");
        }

        if (location.TryGetValue("parts", out var parts) && parts is BsonArray partList)
        {
            var ids = partList.OfType<BsonDocument>().Where(p => p.Contains("messageId")).Select(p => p["messageId"].ToString()).ToList();
            var expected = location.GetValue("partCount", ids.Count).ToInt32();
            words.Add($"{ids.Count} of {expected} parts as messages {(ids.Count == 0 ? "(none yet)" : string.Join(", ", ids))} in chat {Text(location, "chatId") ?? "?"}");
        }

        if (location.TryGetValue("size", out var size) && size.IsNumeric)
        {
            words.Add(string.Create(CultureInfo.InvariantCulture, $"{size.ToInt64()} bytes"));
        }

        if (Text(location, "keyId") is { } keyId)
        {
            words.Add($"encrypted with key {keyId}");
        }

        return words.Count > 0 ? string.Join("; ", words) : "recorded";
    }

    private static string? Text(BsonDocument document, string name) =>
        document.TryGetValue(name, out var value) && value.IsString ? value.AsString : null;
}

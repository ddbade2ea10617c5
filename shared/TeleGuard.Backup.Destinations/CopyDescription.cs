using System.Globalization;

namespace TeleGuard.Backup.Destinations;

/// <summary>
/// Pieces of "where the copy is" in words, for destinations to compose in <see cref="IBackupDestination.DescribeCopy"/>.
/// Every piece is optional: a location recorded by an older version may lack it.
/// </summary>
public static class CopyDescription
{
    public static string Join(params string?[] pieces)
    {
        var words = pieces.Where(p => !string.IsNullOrEmpty(p)).ToList();
        return words.Count > 0 ? string.Join("; ", words) : "recorded";
    }

    /// <summary>"commit abc123def456 on branch b of repository".</summary>
    public static string? Commit(string? commit, string? branch, string? repository) => commit is not null
        ? $"commit {commit[..Math.Min(12, commit.Length)]} on branch {branch ?? "?"} of {repository ?? "the repository"}"
        : null;

    /// <summary>"file x" or "files x, y, z and 2 more".</summary>
    public static string? Files(IReadOnlyList<string> files) =>
        files.Count > 0
            ? files.Count == 1 ? $"file {files[0]}" : $"files {string.Join(", ", files.Take(3))}{(files.Count > 3 ? $" and {files.Count - 3} more" : "")}"
            : null;

    public static string? Size(long? bytes) => bytes is { } size ? string.Create(CultureInfo.InvariantCulture, $"{size} bytes") : null;

    public static string? Key(string? keyId) => keyId is not null ? $"encrypted with key {keyId}" : null;
}

using System.Text.Json;

namespace TeleGuard.Backup.Git;

/// <summary>
/// Checks names and paths read from a remote (git tree entries, <c>index.json</c>) before they are joined to a local
/// folder: anyone with push access can write them, so nothing they name may land or be read outside that folder.
/// </summary>
public static class UntrustedPaths
{
    /// <summary>One path segment: not empty, not <c>.</c> or <c>..</c>, and without <c>/</c>, <c>\</c> or NUL.</summary>
    public static bool IsSafeName(string name) =>
        name.Length > 0 && name is not ("." or "..") && name.AsSpan().IndexOfAny('/', '\\', '\0') < 0;

    /// <summary>A relative path of safe names separated by <c>/</c> (so not absolute, and no <c>..</c> segment).</summary>
    public static bool IsSafeRelativePath(string path) => path.Length > 0 && path.Split('/').All(IsSafeName);

    /// <summary>
    /// The full path of <paramref name="relativePath"/> under <paramref name="folder"/>. Throws
    /// <see cref="InvalidDataException"/> naming <paramref name="source"/> when the path is not a safe relative path or
    /// would resolve outside the folder.
    /// </summary>
    public static string Resolve(string folder, string relativePath, string source)
    {
        if (!IsSafeRelativePath(relativePath))
        {
            throw new InvalidDataException($"Unsafe path {Quote(relativePath)} in {source}: refused (absolute, '..', '\\' or NUL).");
        }

        return EnsureInside(folder, Path.Combine(folder, relativePath), relativePath, source);
    }

    /// <summary>Returns the full form of <paramref name="path"/> when it is strictly inside <paramref name="folder"/>; throws otherwise.</summary>
    public static string EnsureInside(string folder, string path, string shown, string source)
    {
        var root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)) + Path.DirectorySeparatorChar;
        var full = Path.GetFullPath(path);
        if (!full.StartsWith(root, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"Path {Quote(shown)} in {source} leads outside {folder}: refused.");
        }

        return full;
    }

    /// <summary>The name as a JSON string: quoted, with control characters escaped, so an error stays one line.</summary>
    public static string Quote(string name) => JsonSerializer.Serialize(name);
}

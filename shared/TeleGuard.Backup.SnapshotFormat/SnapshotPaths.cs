using System.Text;

namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>
/// Stable, file-name-safe paths inside a snapshot. The same relative paths are used in the artifact archive and in the
/// private git repository, so that hourly commits touch the same files and git stores deltas.
/// </summary>
public static class SnapshotPaths
{
    public const string CollectionsFolder = "collections";
    public const string MetadataFileName = "metadata.json";

    /// <summary>
    /// Encodes a collection name as one path segment: ASCII letters, digits, '_', '-' and '.' stay; every other
    /// UTF-8 byte becomes %XX (upper-case hex), and so does a leading '.', so the result is never "." or "..".
    /// </summary>
    public static string EncodeSegment(string name)
    {
        var builder = new StringBuilder(name.Length);
        var bytes = Encoding.UTF8.GetBytes(name);
        for (var i = 0; i < bytes.Length; i++)
        {
            var b = bytes[i];
            var safe = b is (>= (byte)'a' and <= (byte)'z') or (>= (byte)'A' and <= (byte)'Z') or (>= (byte)'0' and <= (byte)'9')
                or (byte)'_' or (byte)'-' || (b == (byte)'.' && i > 0);
            if (safe)
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2"));
            }
        }

        return builder.ToString();
    }

    public static string CollectionDirectory(string collectionName) => $"{CollectionsFolder}/{EncodeSegment(collectionName)}";

    public static string PartFile(string collectionDirectory, int partNumber) => $"{collectionDirectory}/part-{partNumber:D4}.jsonl";

    public static string MetadataFile(string collectionDirectory) => $"{collectionDirectory}/{MetadataFileName}";

    /// <summary>Rejects a manifest path that could escape the folder it is extracted into.</summary>
    public static string EnsureSafeRelative(string path)
    {
        if (string.IsNullOrEmpty(path) || path.StartsWith('/') || path.Contains('\\') || path.Contains('\0')
            || path.Split('/').Any(segment => segment is "" or "." or ".."))
        {
            throw new InvalidDataException($"Unsafe path in snapshot: '{path}'.");
        }

        return path;
    }
}

using System.Text.Json;
using System.Text.Json.Serialization;
using TeleGuard.Backup.Git;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Destinations.Public;

/// <summary>
/// <c>index.json</c> on the public branch: what exists and how to check it without the key. Holds no plaintext metadata.
/// </summary>
public sealed record PublicIndex
{
    public const string FileName = "index.json";

    /// <summary>Far above any real index (a few hundred bytes per snapshot); a larger file is refused unread.</summary>
    public const long MaxBytes = 16 * 1024 * 1024;

    public string Format { get; init; } = "teleguard-public-snapshots";
    public int Version { get; init; } = 1;
    public List<PublicSnapshot> Snapshots { get; init; } = [];

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>
    /// The snapshot with the newest data ("latest"): by data time, with entries written before data times were kept
    /// taking the time in their id; equal times fall back to the id.
    /// </summary>
    public PublicSnapshot? Newest() =>
        Snapshots.OrderByDescending(s => s.DataTimeOrIdTime).ThenByDescending(s => s.Id, StringComparer.Ordinal).FirstOrDefault();

    public byte[] ToJsonBytes() => JsonSerializer.SerializeToUtf8Bytes(this with { Snapshots = [.. Snapshots.OrderBy(s => s.Id, StringComparer.Ordinal)] }, Json);

    /// <summary>
    /// Parses and checks an index read from the branch, which anyone with push access can write: every snapshot id is a
    /// snapshot id listed once, every file a safe relative path (see <see cref="UntrustedPaths"/>) with a size and a
    /// SHA-256. Throws <see cref="InvalidDataException"/> naming what is wrong.
    /// </summary>
    public static PublicIndex Parse(ReadOnlySpan<byte> json)
    {
        if (json.Length > MaxBytes)
        {
            throw new InvalidDataException($"{FileName} is {json.Length} bytes, over the {MaxBytes}-byte limit.");
        }

        PublicIndex index;
        try
        {
            index = JsonSerializer.Deserialize<PublicIndex>(json, Json) ?? new PublicIndex();
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{FileName} is not valid JSON of the expected shape: {e.Message}");
        }

        index.Check();
        return index;
    }

    private void Check()
    {
        if (Snapshots is null)
        {
            throw new InvalidDataException($"{FileName} has no snapshot list.");
        }

        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var snapshot in Snapshots)
        {
            if (snapshot?.Id is not { } id || !SnapshotIds.IsValid(id))
            {
                throw new InvalidDataException($"{FileName} lists an invalid snapshot id {UntrustedPaths.Quote(snapshot?.Id ?? "")}.");
            }

            if (!ids.Add(id))
            {
                throw new InvalidDataException($"{FileName} lists snapshot {id} twice.");
            }

            if (!IsSha256(snapshot.Sha256) || snapshot.Size < 0 || snapshot.KeyId is not { Length: 16 } || !IsLowerHex(snapshot.KeyId)
                || snapshot.Files is not { Count: > 0 })
            {
                throw new InvalidDataException($"{FileName}: the entry of snapshot {id} lacks a valid size, SHA-256, key id or file list.");
            }

            foreach (var file in snapshot.Files)
            {
                if (file?.File is not { } path || !UntrustedPaths.IsSafeRelativePath(path))
                {
                    throw new InvalidDataException(
                        $"{FileName} lists an unsafe path {UntrustedPaths.Quote(file?.File ?? "")} for snapshot {id}: refused (absolute, '..', '\\' or NUL).");
                }

                if (!IsSha256(file.Sha256) || file.Size < 0)
                {
                    throw new InvalidDataException($"{FileName}: {path} of snapshot {id} lacks a valid size or SHA-256.");
                }
            }
        }
    }

    private static bool IsSha256(string? text) => text is { Length: 64 } && IsLowerHex(text);

    private static bool IsLowerHex(string text) => text.All(char.IsAsciiHexDigitLower);
}

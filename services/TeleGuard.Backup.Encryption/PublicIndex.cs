using System.Text.Json;
using System.Text.Json.Serialization;

namespace TeleGuard.Backup.Encryption;

/// <summary>
/// <c>index.json</c> on the public branch: what exists and how to check it without the key. Holds no plaintext metadata.
/// </summary>
public sealed record PublicIndex
{
    public const string FileName = "index.json";

    public string Format { get; init; } = "teleguard-public-snapshots";
    public int Version { get; init; } = 1;
    public List<PublicSnapshot> Snapshots { get; init; } = [];

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public byte[] ToJsonBytes() => JsonSerializer.SerializeToUtf8Bytes(this with { Snapshots = [.. Snapshots.OrderBy(s => s.Id, StringComparer.Ordinal)] }, Json);

    public static PublicIndex Parse(ReadOnlySpan<byte> json) => JsonSerializer.Deserialize<PublicIndex>(json, Json) ?? new PublicIndex();
}

/// <param name="Size">Bytes of the whole encrypted file (all parts).</param>
/// <param name="Sha256">SHA-256 of the whole encrypted file (the parts concatenated in order).</param>
public sealed record PublicSnapshot(string Id, long Size, string Sha256, string KeyId, IReadOnlyList<PublicFile> Files);

public sealed record PublicFile(string File, long Size, string Sha256);

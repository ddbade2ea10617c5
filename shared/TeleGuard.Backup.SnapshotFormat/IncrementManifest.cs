using System.Text.Json;
using System.Text.RegularExpressions;

namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>
/// <c>increment.json</c>: the change events of one range of cluster times <c>(From, To]</c> and how to check them and
/// their place in the chain. Documented in docs/increment-format.md.
/// </summary>
public sealed partial record IncrementManifest
{
    public const string FormatName = "teleguard-increment";
    public const int CurrentFormatVersion = 1;
    public const string FileName = "increment.json";
    public const string EventsFileName = "events.jsonl";

    public string Format { get; init; } = FormatName;
    public int FormatVersion { get; init; } = CurrentFormatVersion;
    public required string IncrementId { get; init; }
    public required string Chain { get; init; }
    public required int Sequence { get; init; }
    public required string BaseSnapshotId { get; init; }
    public required string Database { get; init; }
    public required ClusterTimestamp From { get; init; }
    public required ClusterTimestamp To { get; init; }
    public ClusterTimestamp? FirstEventTime { get; init; }
    public ClusterTimestamp? LastEventTime { get; init; }
    public required long Events { get; init; }
    public required long Bytes { get; init; }
    public required string Sha256 { get; init; }
    public string? PreviousSha256 { get; init; }
    public required DateTimeOffset ClosedAt { get; init; }

    /// <summary><c>CHAIN-NNNNNN</c>: sorts in chain order.</summary>
    public static string IdOf(string chain, int sequence) => $"{chain}-{sequence:D6}";

    public byte[] ToJsonBytes() => JsonSerializer.SerializeToUtf8Bytes(this, SnapshotManifest.JsonOptions);

    /// <summary>Parses and checks what can be checked on one manifest alone; what is read back is untrusted.</summary>
    public static IncrementManifest Parse(ReadOnlySpan<byte> json)
    {
        IncrementManifest manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<IncrementManifest>(json, SnapshotManifest.JsonOptions)
                ?? throw new InvalidDataException($"{FileName} is empty.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{FileName} is not a valid increment manifest ({e.Message}).", e);
        }

        if (manifest.Format != FormatName || manifest.FormatVersion != CurrentFormatVersion)
        {
            throw new InvalidDataException($"{FileName} is not a {FormatName} manifest of version {CurrentFormatVersion}.");
        }

        if (!SnapshotIds.IsValid(manifest.Chain) || !SnapshotIds.IsValid(manifest.BaseSnapshotId) || manifest.Sequence < 1
            || manifest.IncrementId != IdOf(manifest.Chain, manifest.Sequence))
        {
            throw new InvalidDataException($"{FileName} names its chain, sequence or base snapshot in a form no recorder writes.");
        }

        if (Compare(manifest.To, manifest.From) < 0 || manifest.Events < 0 || manifest.Bytes < 0 || !IsSha256(manifest.Sha256)
            || (manifest.PreviousSha256 is { } previous ? !IsSha256(previous) || manifest.Sequence == 1 : manifest.Sequence > 1)
            || (manifest.Events == 0) != (manifest.FirstEventTime is null) || (manifest.FirstEventTime is null) != (manifest.LastEventTime is null)
            || (manifest.FirstEventTime is { } first && (Compare(first, manifest.From) < 0 || Compare(manifest.LastEventTime!, first) < 0 || Compare(manifest.LastEventTime!, manifest.To) > 0)))
        {
            throw new InvalidDataException($"{FileName} of {manifest.IncrementId} is inconsistent (times, counts or hashes).");
        }

        return manifest;
    }

    /// <summary>Orders cluster times as MongoDB does: seconds, then the ordinal within the second.</summary>
    public static int Compare(ClusterTimestamp a, ClusterTimestamp b) =>
        a.T != b.T ? a.T.CompareTo(b.T) : a.I.CompareTo(b.I);

    private static bool IsSha256(string? value) => value is not null && Sha256Pattern().IsMatch(value);

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex Sha256Pattern();
}

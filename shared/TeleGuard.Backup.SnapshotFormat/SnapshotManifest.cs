using System.Text.Json;
using System.Text.Json.Serialization;

namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>
/// <c>manifest.json</c>: what a snapshot holds and how to check it. Documented in docs/snapshot-format.md.
/// Plain metadata only (no credentials): it is committed to the private repository as it is.
/// </summary>
public sealed record SnapshotManifest
{
    public const string FormatName = "teleguard-snapshot";
    /// <summary>Version 2 added the escapes of <see cref="SnapshotEscapes"/>, <c>bsonSha256</c> and <c>skipped</c>; version 1 stays readable.</summary>
    public const int CurrentFormatVersion = 2;
    public const int OldestReadableFormatVersion = 1;
    public const string FileName = "manifest.json";

    public string Format { get; init; } = FormatName;
    public int FormatVersion { get; init; } = CurrentFormatVersion;
    public required string SnapshotId { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public required DateTimeOffset FinishedAt { get; init; }
    public required SnapshotSource Source { get; init; }
    public required SnapshotConsistency Consistency { get; init; }
    public required IReadOnlyList<CollectionEntry> Collections { get; init; }

    /// <summary>Collections the export could not take (a type it does not know, a read the server refused), and why.</summary>
    public IReadOnlyList<SkippedCollectionEntry> Skipped { get; init; } = [];

    /// <summary>
    /// When the data was read: the snapshot session's cluster time on a replica set (every document is as of that
    /// moment, on the server's clock), else the end of the export (a standalone server has no single read point).
    /// "Latest" means the newest data time, not the largest id: a catch-up snapshot of an earlier slot can hold newer
    /// data than a manual snapshot taken before it.
    /// </summary>
    [JsonIgnore]
    public DateTimeOffset DataTime => Consistency.ClusterTime is { } time ? DateTimeOffset.FromUnixTimeSeconds(time.T) : FinishedAt;

    public long TotalDocuments => Collections.Sum(c => c.Documents);
    public long TotalBytes => Collections.Sum(c => c.Bytes);

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    /// <summary>
    /// Names reach the target database: only what an export can produce (a hostile manifest could otherwise name a
    /// restore's own work collections, a system collection, or one collection twice).
    /// </summary>
    public void EnsureRestorable()
    {
        foreach (var collection in Collections)
        {
            if (!IsRestorableCollectionName(collection.Name) || !SnapshotExporter.ExportableTypes.Contains(collection.Type ?? ""))
            {
                throw new InvalidDataException($"manifest.json lists a collection that no export writes: {System.Text.Json.JsonSerializer.Serialize(collection.Name)} ({collection.Type}).");
            }
        }

        if (Collections.Select(c => c.Name).Distinct(StringComparer.Ordinal).Count() != Collections.Count)
        {
            throw new InvalidDataException("manifest.json lists a collection twice.");
        }
    }

    /// <summary>A name MongoDB allows for a user collection that an export may hold (not a system or restore work collection).</summary>
    public static bool IsRestorableCollectionName(string? name) =>
        !string.IsNullOrEmpty(name) && !name.Contains('\0') && !name.Contains('$') && System.Text.Encoding.UTF8.GetByteCount(name) <= 255
        && !name.StartsWith("system.", StringComparison.Ordinal) && !RestoreWorkCollections.IsWorkCollection(name);

    public byte[] ToJsonBytes() => JsonSerializer.SerializeToUtf8Bytes(this, JsonOptions);

    public static SnapshotManifest Parse(ReadOnlySpan<byte> json)
    {
        SnapshotManifest manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<SnapshotManifest>(json, JsonOptions)
                ?? throw new InvalidDataException("manifest.json is empty.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"manifest.json is not a valid snapshot manifest ({e.Message}).", e);
        }
        if (manifest.Format != FormatName)
        {
            throw new InvalidDataException($"manifest.json is not a {FormatName} manifest.");
        }

        if (manifest.FormatVersion is < OldestReadableFormatVersion or > CurrentFormatVersion)
        {
            throw new InvalidDataException(
                $"manifest.json has format version {manifest.FormatVersion}; this build reads versions {OldestReadableFormatVersion} to {CurrentFormatVersion}.");
        }

        if (manifest.Collections is null || manifest.Collections.Any(c => c is null || c.Parts is null || c.Metadata is null))
        {
            throw new InvalidDataException("manifest.json lists a collection without its files.");
        }

        manifest.EnsureRestorable();

        return manifest;
    }
}

/// <param name="Hosts">Server addresses as configured, without user names or passwords.</param>
public sealed record SnapshotSource(string Database, IReadOnlyList<string> Hosts, string? ReplicaSet);

/// <param name="Mode"><c>snapshot</c> (one snapshot session on a replica set) or <c>none</c> (standalone server).</param>
/// <param name="ClusterTime">The snapshot's cluster time, when <paramref name="Mode"/> is <c>snapshot</c>.</param>
/// <param name="Reason">Why a snapshot read on a replica set is <c>none</c> (it fell back from the snapshot session);
/// absent otherwise, and ignored by readers that do not know it.</param>
public sealed record SnapshotConsistency(string Mode, ClusterTimestamp? ClusterTime, string? Reason = null)
{
    public const string Snapshot = "snapshot";
    public const string None = "none";
}

public sealed record ClusterTimestamp(uint T, uint I);

/// <summary>One collection (or view) of the snapshot.</summary>
/// <param name="Name">Collection name as in MongoDB.</param>
/// <param name="Type"><c>collection</c> or <c>view</c> (a view has options and no documents).</param>
/// <param name="Directory">Archive folder of this collection, e.g. <c>collections/users</c> (see <see cref="SnapshotPaths"/>).</param>
/// <param name="Sha256">SHA-256 of the collection's whole canonical JSONL (all parts concatenated): its content hash.</param>
/// <param name="BsonSha256">SHA-256 of the documents' BSON bytes, concatenated in file order, as the server returned them
/// (format version 2): a restore is checked against it byte for byte. Null in version 1 snapshots.</param>
public sealed record CollectionEntry(
    string Name,
    string Type,
    string Directory,
    long Documents,
    long Bytes,
    string Sha256,
    FileEntry Metadata,
    IReadOnlyList<PartEntry> Parts,
    string? BsonSha256 = null);

/// <summary>A collection the snapshot does not hold, so that nobody mistakes its absence for an empty collection.</summary>
public sealed record SkippedCollectionEntry(string Name, string Type, string Reason);

public sealed record FileEntry(string File, long Bytes, string Sha256);

public sealed record PartEntry(string File, long Documents, long Bytes, string Sha256);

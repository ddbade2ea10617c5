namespace TeleGuard.Backup.Snapshots;

public sealed record SnapshotExportOptions
{
    /// <summary>45 MiB: under GitHub's 50 MB warning and 100 MB limit (SYSTEM.md §4).</summary>
    public const long DefaultPartSizeBytes = 45L * 1024 * 1024;

    /// <summary>Only these collections (BACKUP_COLLECTIONS); null or empty means every non-system collection.</summary>
    public IReadOnlyList<string>? Collections { get; init; }

    /// <summary>Never exported (the artifact store's own collections, so snapshots do not nest).</summary>
    public IReadOnlySet<string> ExcludedCollections { get; init; } = new HashSet<string>();

    public long PartSizeBytes { get; init; } = DefaultPartSizeBytes;

    public int BatchSize { get; init; } = 1000;
}

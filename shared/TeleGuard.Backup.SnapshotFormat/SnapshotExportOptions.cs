namespace TeleGuard.Backup.SnapshotFormat;

public sealed record SnapshotExportOptions
{
    /// <summary>Parts as large as a repository file may be (<see cref="RepositoryFileLimit"/>).</summary>
    public const long DefaultPartSizeBytes = RepositoryFileLimit.MaxBytes;

    /// <summary>Only these collections (BACKUP_COLLECTIONS); null or empty means every non-system collection.</summary>
    public IReadOnlyList<string>? Collections { get; init; }

    /// <summary>Never exported (the artifact store's own collections, so snapshots do not nest).</summary>
    public IReadOnlySet<string> ExcludedCollections { get; init; } = new HashSet<string>();

    public long PartSizeBytes { get; init; } = DefaultPartSizeBytes;

    public int BatchSize { get; init; } = 1000;
}

using Microsoft.Extensions.Configuration;
using TeleGuard.Backup.Configuration;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Export;

public sealed class SnapshotServiceOptions
{
    /// <summary><c>BACKUP_COLLECTIONS</c>: comma-separated collection names; unset exports every non-system collection.</summary>
    [ConfigurationKeyName("BACKUP_COLLECTIONS")]
    public string? CollectionList { get; set => field = Setting.Clean(value); }

    /// <summary><c>SNAPSHOT_PART_SIZE_MB</c>: collections are split into JSONL parts of at most this size (default 45).</summary>
    [ConfigurationKeyName("SNAPSHOT_PART_SIZE_MB")]
    [WholeNumber(1, 95)]
    public string? PartSizeMegabytes { get; set => field = Setting.Clean(value); }

    /// <summary><c>SNAPSHOT_LEASE_SECONDS</c>: how long an export lease lasts without renewal (a dead exporter's lease expires).</summary>
    [ConfigurationKeyName("SNAPSHOT_LEASE_SECONDS")]
    [WholeNumber(5, 3600)]
    public string? LeaseSeconds { get; set => field = Setting.Clean(value); }

    public IReadOnlyList<string> Collections =>
        (CollectionList ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public long PartSizeBytes => PartSizeMegabytes is null
        ? SnapshotExportOptions.DefaultPartSizeBytes
        : Setting.WholeNumber(PartSizeMegabytes, 0) * 1024L * 1024;

    public TimeSpan Lease => TimeSpan.FromSeconds(Setting.WholeNumber(LeaseSeconds, 60));
}

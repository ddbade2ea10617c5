using TeleGuard.Backup.Configuration;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Export;

public sealed class SnapshotServiceOptions : EnvironmentOptions
{
    /// <summary><c>BACKUP_COLLECTIONS</c>: comma-separated collection names; unset exports every non-system collection.</summary>
    public IReadOnlyList<string> Collections { get; private set; } = [];

    /// <summary><c>SNAPSHOT_PART_SIZE_MB</c>: collections are split into JSONL parts of at most this size (default 45).</summary>
    public long PartSizeBytes { get; private set; } = SnapshotExportOptions.DefaultPartSizeBytes;

    /// <summary><c>SNAPSHOT_LEASE_SECONDS</c>: how long an export lease lasts without renewal (a dead exporter's lease expires).</summary>
    public TimeSpan Lease { get; private set; } = TimeSpan.FromSeconds(60);

    protected override void Read(SettingsReader settings)
    {
        Collections = (settings.Optional("BACKUP_COLLECTIONS") ?? "")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        PartSizeBytes = settings.WholeNumber("SNAPSHOT_PART_SIZE_MB", 45, 1, 95) * 1024L * 1024;
        Lease = TimeSpan.FromSeconds(settings.WholeNumber("SNAPSHOT_LEASE_SECONDS", 60, 5, 3600));
    }
}

namespace TeleGuard.Backup.Export;

/// <summary>This attempt lost the export lease to another exporter: it records nothing, and whoever holds the lease finishes.</summary>
public sealed class SnapshotExportInProgressException(string snapshotId)
    : Exception($"Snapshot {snapshotId} is being exported by another instance.");

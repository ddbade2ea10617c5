namespace TeleGuard.Backup.Export;

/// <summary>Another exporter holds the lease for this snapshot; retried with backoff until it finishes or its lease expires.</summary>
public sealed class SnapshotExportInProgressException(string snapshotId)
    : Exception($"Snapshot {snapshotId} is being exported by another instance.");

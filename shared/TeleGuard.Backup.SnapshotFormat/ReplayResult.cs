namespace TeleGuard.Backup.SnapshotFormat;

/// <param name="Applied">Events replayed into the staged collections.</param>
/// <param name="Skipped">Events after the snapshot left out: of collections the restore leaves out, or of kinds not replayed.</param>
/// <param name="LastApplied">The cluster time of the last event applied, if any.</param>
public sealed record ReplayResult(long Applied, long Skipped, ClusterTimestamp? LastApplied);

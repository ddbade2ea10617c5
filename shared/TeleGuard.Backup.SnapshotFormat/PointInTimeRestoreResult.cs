namespace TeleGuard.Backup.SnapshotFormat;

/// <param name="Snapshot">The snapshot's collections as staged (or, in a dry run, as they would be).</param>
/// <param name="Replay">What the replay did; null in a dry run or a restore of the snapshot alone.</param>
/// <param name="Collections">The names swapped in.</param>
/// <param name="Removed">The target's collections removed because they did not exist at the time restored to.</param>
public sealed record PointInTimeRestoreResult(
    IReadOnlyList<CollectionRestoreResult> Snapshot, ReplayResult? Replay, IReadOnlyList<string> Collections, IReadOnlyList<string> Removed);

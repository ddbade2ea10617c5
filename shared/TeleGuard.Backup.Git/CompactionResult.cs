namespace TeleGuard.Backup.Git;

/// <summary>A compaction's parentless commit, and the snapshots whose commits it took off the branch.</summary>
public sealed record CompactionResult(string Sha, IReadOnlyList<string> RemovedSnapshotIds);

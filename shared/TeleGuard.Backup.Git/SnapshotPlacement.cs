namespace TeleGuard.Backup.Git;

/// <summary>Where <see cref="GitBranchWriter.CommitSnapshot"/> puts a snapshot's commit.</summary>
public enum SnapshotPlacement
{
    /// <summary>
    /// In data-time order, so that the head is the newest data. A snapshot older than the head is inserted at its place
    /// and the newer commits are replayed on top: a force push, for holders of the branch lock only.
    /// </summary>
    InDataOrder,

    /// <summary>
    /// In data-time order without rewriting (the branch lock is not held): a snapshot older than the head is refused
    /// with <see cref="GitRewriteNeedsLockException"/>, one on top is a fast-forward push.
    /// </summary>
    InDataOrderWithoutRewrite,

    /// <summary>On top, whatever its data time: for a branch whose files, not its history, carry the snapshots. Never rewrites.</summary>
    OnTop,
}

namespace TeleGuard.Backup.Git;

/// <summary>A snapshot's commit on the branch; <paramref name="Rewrote"/>: newer commits were replayed on top (new SHAs).</summary>
public sealed record SnapshotCommit(string SnapshotId, string Sha, bool AlreadyPresent, bool Rewrote);

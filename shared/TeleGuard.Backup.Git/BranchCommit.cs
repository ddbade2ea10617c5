namespace TeleGuard.Backup.Git;

/// <summary>One commit of the branch as <see cref="GitBranchWriter.History"/> reads it.</summary>
public sealed record BranchCommit(string Sha, string? SnapshotId, DateTimeOffset DataTime, int Parents);

namespace TeleGuard.Backup.Git;

/// <summary>An increment's commit on the branch; <paramref name="AlreadyPresent"/>: the branch held it before, nothing was pushed.</summary>
public sealed record IncrementCommit(string Sha, bool AlreadyPresent);

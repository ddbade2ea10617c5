namespace TeleGuard.Backup.Git;

/// <summary>The commit would rewrite the branch, which only a holder of the branch lock may do; retried later.</summary>
public sealed class GitRewriteNeedsLockException(string message) : Exception(message);

namespace TeleGuard.Backup.Git;

/// <summary>Other writers kept moving the branch between fetch and push; retried later.</summary>
public sealed class GitBranchMovedException(string message) : Exception(message);

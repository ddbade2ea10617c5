namespace TeleGuard.Backup.Git;

/// <summary>Git failed in a way retrying will not fix (authentication, a file the server refuses).</summary>
public sealed class GitPermanentException(string message, Exception? inner = null) : Exception(message, inner);

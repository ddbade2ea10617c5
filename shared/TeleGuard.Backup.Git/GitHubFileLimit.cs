namespace TeleGuard.Backup.Git;

/// <summary>GitHub refuses a push that holds a file over 100 MiB (snapshot parts stay at 45 MiB, under its 50 MiB warning).</summary>
public static class GitHubFileLimit
{
    public const long MaxBytes = 100L * 1024 * 1024;
}

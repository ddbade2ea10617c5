namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>
/// The largest file TeleGuard stores in a git repository, and its default snapshot part size: 45 MiB, under GitHub's
/// 50 MB warning and 100 MB hard limit (no Git LFS). Plain parts on the private branch and encrypted parts on the public
/// branch are both cut at it.
/// </summary>
public static class RepositoryFileLimit
{
    public const long MaxBytes = 45L * 1024 * 1024;
}

namespace TeleGuard.Backup.Git;

/// <summary>
/// A branch of a remote repository and how to authenticate to it. The token is handed to libgit2 through a
/// credentials callback only: it is never part of the remote URL, so it never reaches <c>.git/config</c>.
/// </summary>
public sealed record GitRemote(Uri RepositoryUrl, string Branch, string UserName, string Token)
{
    /// <summary>The URL as shown in logs and errors (it carries no credentials by construction).</summary>
    public override string ToString() => $"{RepositoryUrl} ({Branch})";

    // Records print every property; this one must never print the token.
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append($"RepositoryUrl = {RepositoryUrl}, Branch = {Branch}");
        return true;
    }
}

/// <summary>A snapshot's commit on the branch.</summary>
public sealed record SnapshotCommit(string SnapshotId, string Sha, bool AlreadyPresent);

/// <summary>Git failed in a way retrying will not fix (authentication, a file the server refuses).</summary>
public sealed class GitPermanentException(string message, Exception? inner = null) : Exception(message, inner);

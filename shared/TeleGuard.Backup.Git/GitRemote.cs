namespace TeleGuard.Backup.Git;

/// <summary>
/// A branch of a remote repository and how to authenticate to it. The token is handed to libgit2 through a
/// credentials callback only: it is never part of the remote URL, so it never reaches <c>.git/config</c>.
/// </summary>
/// <param name="RepositoryVariable">The variable the URL came from (GITHUB_REPO, GITHUB_PUBLIC_REPO), for error messages.</param>
public sealed record GitRemote(Uri RepositoryUrl, string Branch, string UserName, string Token, string RepositoryVariable = "GITHUB_REPO")
{
    public string TokenVariable => "GITHUB_TOKEN";

    /// <summary>The URL as shown in logs and errors (it carries no credentials by construction).</summary>
    public override string ToString() => $"{RepositoryUrl} ({Branch})";

    // Records print every property; this one must never print the token.
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append($"RepositoryUrl = {RepositoryUrl}, Branch = {Branch}");
        return true;
    }
}

/// <summary>A snapshot's commit on the branch; <paramref name="Rewrote"/>: newer commits were replayed on top (new SHAs).</summary>
public sealed record SnapshotCommit(string SnapshotId, string Sha, bool AlreadyPresent, bool Rewrote);

/// <summary>A compaction's parentless commit, and the snapshots whose commits it took off the branch.</summary>
public sealed record CompactionResult(string Sha, IReadOnlyList<string> RemovedSnapshotIds);

/// <summary>One commit of the branch as <see cref="GitBranchWriter.History"/> reads it.</summary>
public sealed record BranchCommit(string Sha, string? SnapshotId, DateTimeOffset DataTime, int Parents);

/// <summary>Git failed in a way retrying will not fix (authentication, a file the server refuses).</summary>
public sealed class GitPermanentException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The commit would rewrite the branch, which only a holder of the branch lock may do; retried later.</summary>
public sealed class GitRewriteNeedsLockException(string message) : Exception(message);

/// <summary>Other writers kept moving the branch between fetch and push; retried later.</summary>
public sealed class GitBranchMovedException(string message) : Exception(message);

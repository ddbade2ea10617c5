namespace TeleGuard.Backup.Git;

/// <summary>
/// A branch of a remote repository and how to authenticate to it. The token is handed to libgit2 through a
/// credentials callback only: it is never part of the remote URL, so it never reaches <c>.git/config</c>.
/// </summary>
/// <param name="RepositoryVariable">The variable the URL came from (GITHUB_REPO, GITHUB_PUBLIC_REPO), for error messages.</param>
public sealed record GitRemote(Uri RepositoryUrl, string Branch, string UserName, string Token, string RepositoryVariable = "GITHUB_REPO")
{
    public const string TokenVariable = "GITHUB_TOKEN";

    /// <summary>The URL as shown in logs and errors (it carries no credentials by construction).</summary>
    public override string ToString() => $"{RepositoryUrl} ({Branch})";

    // Records print every property; this one must never print the token.
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append($"RepositoryUrl = {RepositoryUrl}, Branch = {Branch}");
        return true;
    }
}

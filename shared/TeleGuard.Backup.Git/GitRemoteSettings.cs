using LibGit2Sharp;
using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Git;

/// <summary>Validates a repository URL, branch and token read from the environment into a <see cref="GitRemote"/>.</summary>
public static class GitRemoteSettings
{
    /// <summary>Returns the remote, or null after recording every problem (named by variable, never by value).</summary>
    public static GitRemote? Read(SettingsReader settings, string repositoryVariable, string? repository, string branchVariable, string branch, string? token)
    {
        if (!Reference.IsValidName($"refs/heads/{branch}"))
        {
            settings.Fail(branchVariable, "is not a valid branch name");
            return null;
        }

        if (repository is null || token is null)
        {
            return null;
        }

        if (!Uri.TryCreate(repository, UriKind.Absolute, out var url) || url.Scheme is not ("https" or "http"))
        {
            settings.Fail(repositoryVariable, "must be the repository's https URL, e.g. https://github.com/owner/backups.git");
            return null;
        }

        if (url.UserInfo.Length > 0)
        {
            settings.Fail(repositoryVariable, "must not contain credentials; put the token in GITHUB_TOKEN");
            return null;
        }

        return new GitRemote(url, branch, settings.OrDefault("GITHUB_USER", "x-access-token"), token, repositoryVariable);
    }
}

using Microsoft.Extensions.Configuration;
using TeleGuard.Backup.Configuration;
using TeleGuard.Backup.Git;

namespace TeleGuard.Backup.Destinations.GitHub;

/// <summary>
/// <c>GITHUB_REPO</c> (https URL of the private repository), <c>GITHUB_TOKEN</c>, <c>GITHUB_BACKUP_BRANCH</c>
/// (default <c>backups</c>), <c>GITHUB_USER</c> (default <c>x-access-token</c>, what GitHub expects with a token).
/// Neither <c>GITHUB_REPO</c> nor <c>GITHUB_BACKUP_BRANCH</c> set: the sink is disabled (<c>GITHUB_TOKEN</c> alone may
/// be there for the public copy). One of them without the rest: start-up refuses and names what is missing.
/// </summary>
public sealed class GitHubSinkOptions
{
    public const string RepositoryVariable = "GITHUB_REPO";
    public const string TokenVariable = "GITHUB_TOKEN";
    public const string BranchVariable = "GITHUB_BACKUP_BRANCH";
    public const string UserVariable = "GITHUB_USER";

    [ConfigurationKeyName(RepositoryVariable)]
    [GitRepositoryUrl]
    public string? Repository { get; set => field = Setting.Clean(value); }

    [ConfigurationKeyName(TokenVariable)]
    public string? Token { get; set => field = Setting.Clean(value); }

    [ConfigurationKeyName(BranchVariable)]
    [GitBranchName]
    public string? Branch { get; set => field = Setting.Clean(value); }

    [ConfigurationKeyName(UserVariable)]
    public string? User { get; set => field = Setting.Clean(value); }

    public bool Enabled => Repository is not null || Branch is not null;

    public GitRemote? Remote => Enabled && Repository is not null && Token is not null
        ? new GitRemote(new Uri(Repository), Branch ?? "backups", User ?? "x-access-token", Token, RepositoryVariable)
        : null;
}

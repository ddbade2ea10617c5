using TeleGuard.Backup.Configuration;
using TeleGuard.Backup.Git;

namespace TeleGuard.Backup.Destinations.GitHub;

/// <summary>
/// <c>GITHUB_REPO</c> (https URL of the private repository), <c>GITHUB_TOKEN</c>, <c>GITHUB_BACKUP_BRANCH</c>
/// (default <c>backups</c>), <c>GITHUB_USER</c> (default <c>x-access-token</c>, what GitHub expects with a token).
/// Neither <c>GITHUB_REPO</c> nor <c>GITHUB_BACKUP_BRANCH</c> set: the sink is disabled (<c>GITHUB_TOKEN</c> alone may
/// be there for the public copy). One of them without the rest: start-up refuses and names what is missing.
/// </summary>
public sealed class GitHubSinkOptions : EnvironmentOptions
{
    public const string RepositoryVariable = "GITHUB_REPO";
    public const string TokenVariable = "GITHUB_TOKEN";
    public const string BranchVariable = "GITHUB_BACKUP_BRANCH";


    public bool Enabled { get; private set; }
    public GitRemote? Remote { get; private set; }

    protected override void Read(SettingsReader settings)
    {
        var repository = settings.Optional(RepositoryVariable);
        var token = settings.Optional(TokenVariable);
        var branch = settings.Optional(BranchVariable);
        if (repository is null && branch is null)
        {
            return;
        }

        if (repository is null)
        {
            settings.Fail(RepositoryVariable, $"is required when {BranchVariable} is set");
        }

        if (token is null)
        {
            settings.Fail(TokenVariable, $"is required when {RepositoryVariable} is set");
        }

        Remote = GitRemoteSettings.Read(settings, RepositoryVariable, repository, BranchVariable, branch ?? "backups", token);
        Enabled = Remote is not null;
    }
}

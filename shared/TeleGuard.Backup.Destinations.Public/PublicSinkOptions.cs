using TeleGuard.Backup.Configuration;
using TeleGuard.Backup.Crypto;
using TeleGuard.Backup.Git;

namespace TeleGuard.Backup.Destinations.Public;

/// <summary>
/// The public encrypted copy: <c>ENCRYPTION_KEY</c>, <c>ENCRYPTION_PREVIOUS_KEYS</c>, <c>GITHUB_PUBLIC_REPO</c>
/// (required: never the private repository by default, whose plain snapshots a "public" repository would expose),
/// <c>GITHUB_PUBLIC_BRANCH</c> (default <c>public-snapshots</c>) and <c>GITHUB_TOKEN</c>.
/// Disabled when <c>ENCRYPTION_KEY</c> and every <c>GITHUB_PUBLIC_*</c> are unset; refused when only some are set.
/// </summary>
public sealed class PublicSinkOptions : EnvironmentOptions
{
    public const string PublicRepositoryVariable = "GITHUB_PUBLIC_REPO";
    public const string PublicBranchVariable = "GITHUB_PUBLIC_BRANCH";


    public bool Enabled { get; private set; }
    public EncryptionKeyRing? Keys { get; private set; }
    public GitRemote? Remote { get; private set; }

    protected override void Read(SettingsReader settings)
    {
        var key = settings.Optional(EncryptionKeyOptions.KeyVariable);
        var publicRepository = settings.Optional(PublicRepositoryVariable);
        var publicBranch = settings.Optional(PublicBranchVariable);
        if (key is null && publicRepository is null && publicBranch is null)
        {
            return;
        }

        Keys = EncryptionKeyOptions.ReadKeyRing(settings, required: true);
        var repository = publicRepository;
        var token = settings.Optional("GITHUB_TOKEN");
        if (repository is null)
        {
            settings.Fail(PublicRepositoryVariable,
                "is required when ENCRYPTION_KEY or GITHUB_PUBLIC_BRANCH is set (it is not taken from GITHUB_REPO: making that repository public would expose the plain snapshots)");
        }

        if (token is null)
        {
            settings.Fail("GITHUB_TOKEN", "is required to push the public snapshots");
        }

        Remote = GitRemoteSettings.Read(settings, PublicRepositoryVariable, repository,
            PublicBranchVariable, publicBranch ?? "public-snapshots", token);
        Enabled = Remote is not null && Keys is not null;
    }
}

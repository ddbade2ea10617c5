using Microsoft.Extensions.Configuration;
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
public sealed class PublicSinkOptions
{
    public const string PublicRepositoryVariable = "GITHUB_PUBLIC_REPO";
    public const string PublicBranchVariable = "GITHUB_PUBLIC_BRANCH";
    public const string TokenVariable = "GITHUB_TOKEN";
    public const string UserVariable = "GITHUB_USER";

    [ConfigurationKeyName(EncryptionKeyOptions.KeyVariable)]
    [EncryptionKey]
    public string? Key { get; set => field = Setting.Clean(value); }

    [ConfigurationKeyName(EncryptionKeyOptions.PreviousKeysVariable)]
    public string? PreviousKeys { get; set => field = Setting.Clean(value); }

    [ConfigurationKeyName(PublicRepositoryVariable)]
    [GitRepositoryUrl]
    public string? Repository { get; set => field = Setting.Clean(value); }

    [ConfigurationKeyName(PublicBranchVariable)]
    [GitBranchName]
    public string? Branch { get; set => field = Setting.Clean(value); }

    [ConfigurationKeyName(TokenVariable)]
    public string? Token { get; set => field = Setting.Clean(value); }

    [ConfigurationKeyName(UserVariable)]
    public string? User { get; set => field = Setting.Clean(value); }

    public bool Enabled => Key is not null || Repository is not null || Branch is not null;

    public EncryptionKeyRing? Keys => Enabled ? EncryptionKeySettings.Ring(Key, PreviousKeys) : null;

    public GitRemote? Remote => Enabled && Repository is not null && Token is not null
        ? new GitRemote(new Uri(Repository), Branch ?? "public-snapshots", User ?? "x-access-token", Token, PublicRepositoryVariable)
        : null;
}

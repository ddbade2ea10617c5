using Microsoft.Extensions.Options;
using TeleGuard.Backup.Configuration;
using TeleGuard.Backup.Crypto;

namespace TeleGuard.Backup.Destinations.Public;

/// <summary>Each setting's rules, then all or none: a key or a public repository or branch needs the key, the repository and a token.</summary>
public sealed class PublicSinkOptionsValidator : IValidateOptions<PublicSinkOptions>
{
    private readonly PublicSinkSettingRules _settingRules = new();

    public ValidateOptionsResult Validate(string? name, PublicSinkOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var result = new ValidateOptionsResultBuilder();
        result.AddResult(_settingRules.Validate(name, options));
        if (!options.Enabled)
        {
            return result.Build();
        }

        EncryptionKeySettings.CheckPair(result, EncryptionKeyOptions.KeyVariable, options.Key, EncryptionKeyOptions.PreviousKeysVariable, options.PreviousKeys, required: true);
        if (options.Repository is null)
        {
            result.AddError(Setting.Problem(PublicSinkOptions.PublicRepositoryVariable,
                "is required when ENCRYPTION_KEY or GITHUB_PUBLIC_BRANCH is set (it is not taken from GITHUB_REPO: making that repository public would expose the plain snapshots)"));
        }

        if (options.Token is null)
        {
            result.AddError(Setting.Problem(PublicSinkOptions.TokenVariable, "is required to push the public snapshots"));
        }

        return result.Build();
    }
}

using Microsoft.Extensions.Options;
using TeleGuard.Backup.Configuration;
using TeleGuard.Backup.Crypto;
using TeleGuard.Backup.Destinations.Public;
using TeleGuard.Backup.Destinations.Telegram;

namespace TeleGuard.Backup.Cli;

/// <summary>Each key's rules, previous keys only with their key, and at least one key.</summary>
public sealed class DecryptionKeysOptionsValidator : IValidateOptions<DecryptionKeysOptions>
{
    private readonly DecryptionKeysSettingRules _settingRules = new();

    public ValidateOptionsResult Validate(string? name, DecryptionKeysOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var result = new ValidateOptionsResultBuilder();
        result.AddResult(_settingRules.Validate(name, options));
        EncryptionKeySettings.CheckPair(result, EncryptionKeyOptions.KeyVariable, options.PublicKey,
            EncryptionKeyOptions.PreviousKeysVariable, options.PublicPreviousKeys, required: false);
        EncryptionKeySettings.CheckPair(result, TelegramSinkOptions.EncryptionKeyVariable, options.TelegramKey,
            TelegramSinkOptions.EncryptionPreviousKeysVariable, options.TelegramPreviousKeys, required: false);
        if (options.PublicKey is null && options.TelegramKey is null && !result.Build().Failed)
        {
            result.AddError(Setting.Problem(EncryptionKeyOptions.KeyVariable, $"(or {TelegramSinkOptions.EncryptionKeyVariable} for a Telegram copy) is required to decrypt"));
        }

        return result.Build();
    }
}

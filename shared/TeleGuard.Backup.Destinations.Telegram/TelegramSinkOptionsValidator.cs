using Microsoft.Extensions.Options;
using TeleGuard.Backup.Configuration;
using TeleGuard.Backup.Crypto;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>
/// Each setting's rules, then those between settings: any setting needs the token and the channel; a local server
/// needs its URL and allows larger parts; alerts go elsewhere than the backup channel.
/// </summary>
public sealed class TelegramSinkOptionsValidator : IValidateOptions<TelegramSinkOptions>
{
    private const string Others =
        $"{TelegramSinkOptions.BaseUrlVariable}, {TelegramSinkOptions.LocalApiVariable}, {TelegramSinkOptions.PartSizeVariable} or {TelegramSinkOptions.EncryptionKeyVariable}";

    private readonly TelegramSinkSettingRules _settingRules = new();

    public ValidateOptionsResult Validate(string? name, TelegramSinkOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var result = new ValidateOptionsResultBuilder();
        result.AddResult(_settingRules.Validate(name, options));
        if (options.IncrementMinutesText is { } minutes && !Setting.IsWholeNumber(minutes, 1, TelegramSinkOptions.MaxIncrementMinutes))
        {
            result.AddError(Setting.Problem(TelegramSinkOptions.IncrementMinutesVariable,
                $"must be a whole number of minutes from 1 to {TelegramSinkOptions.MaxIncrementMinutes} (how often increments are sent as one message)"));
        }

        if (!options.Enabled)
        {
            if (options.AlertChat is not null)
            {
                result.AddError(Setting.Problem(TelegramSinkOptions.TokenVariable, $"is required when {TelegramSinkOptions.AlertChatVariable} is set"));
            }

            return result.Build();
        }

        if (options.BotToken is null)
        {
            result.AddError(Setting.Problem(TelegramSinkOptions.TokenVariable, $"is required when {TelegramSinkOptions.ChannelVariable}, {Others} is set"));
        }

        if (options.ChannelId is null)
        {
            result.AddError(Setting.Problem(TelegramSinkOptions.ChannelVariable, $"is required when {TelegramSinkOptions.TokenVariable}, {Others} is set"));
        }

        if (options.LocalApi && options.BaseUrl is null)
        {
            result.AddError(Setting.Problem(TelegramSinkOptions.LocalApiVariable,
                $"is true but {TelegramSinkOptions.BaseUrlVariable} is not set: a local Bot API server needs its URL"));
        }

        if (options.PartSizeMegabytes is { } partSize && !Setting.IsWholeNumber(partSize, 1, options.MaxPartMegabytes))
        {
            var why = options.LocalApi
                ? "a local Bot API server takes uploads up to 2000 MB"
                : $"the hosted Bot API serves files up to 20 MB, so a restore could not fetch larger parts; with a local Bot API server set {TelegramSinkOptions.LocalApiVariable}=true";
            result.AddError(Setting.Problem(TelegramSinkOptions.PartSizeVariable, $"must be a whole number from 1 to {options.MaxPartMegabytes} ({why})"));
        }

        EncryptionKeySettings.CheckPair(result, TelegramSinkOptions.EncryptionKeyVariable, options.EncryptionKey,
            TelegramSinkOptions.EncryptionPreviousKeysVariable, options.EncryptionPreviousKeys, required: false);
        if (options.AlertChat is not null && options.AlertChat == options.ChannelId)
        {
            // Retention deletes unrecorded messages in the backup channel's id ranges: alerts there could go with them.
            result.AddError(Setting.Problem(TelegramSinkOptions.AlertChatVariable,
                $"must not be the backup channel ({TelegramSinkOptions.ChannelVariable}): choose another chat for alerts"));
        }

        return result.Build();
    }
}

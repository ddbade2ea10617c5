using Microsoft.Extensions.Configuration;
using TeleGuard.Backup.Configuration;
using TeleGuard.Backup.Crypto;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>
/// <c>TELEGRAM_BOT_TOKEN</c>, <c>TELEGRAM_CHANNEL_ID</c> (<c>-100…</c> or <c>@name</c>), <c>TELEGRAM_API_BASE_URL</c>
/// (default the hosted API), <c>TELEGRAM_LOCAL_API</c> and <c>TELEGRAM_PART_SIZE_MB</c>. The hosted API's limits apply
/// unless <c>TELEGRAM_LOCAL_API=true</c> declares a local Bot API server, whatever the base URL (a proxy in front of the
/// hosted API is common): parts of 1–19 MiB (default 19, so that <c>getFile</c>, which serves up to 20 MB, can fetch
/// every part back for a restore); with a local server up to 1907 MiB.
/// <c>TELEGRAM_ALERT_CHAT_ID</c> (optional): where alerts go, with the same bot.
/// <c>TELEGRAM_ENCRYPTION_KEY</c> (optional, base64 of 32 bytes, a key of its own): Telegram's cloud chats are not
/// end-to-end encrypted, so with it the copy is encrypted before upload, in the format of the public copies;
/// <c>TELEGRAM_ENCRYPTION_PREVIOUS_KEYS</c> (comma-separated) still decrypt copies made before a rotation.
/// <c>TELEGRAM_INCREMENT_MINUTES</c> (1–60, default 10): increments are sent as one message per that many minutes,
/// to stay far inside Telegram's flood limits.
/// </summary>
public sealed class TelegramSinkOptions
{
    public const string TokenVariable = "TELEGRAM_BOT_TOKEN";
    public const string ChannelVariable = "TELEGRAM_CHANNEL_ID";
    public const string BaseUrlVariable = "TELEGRAM_API_BASE_URL";
    public const string LocalApiVariable = "TELEGRAM_LOCAL_API";
    public const string PartSizeVariable = "TELEGRAM_PART_SIZE_MB";
    public const string AlertChatVariable = "TELEGRAM_ALERT_CHAT_ID";
    public const string EncryptionKeyVariable = "TELEGRAM_ENCRYPTION_KEY";
    public const string EncryptionPreviousKeysVariable = "TELEGRAM_ENCRYPTION_PREVIOUS_KEYS";
    public const string IncrementMinutesVariable = "TELEGRAM_INCREMENT_MINUTES";
    public const int DefaultIncrementMinutes = 10;
    public const int MaxIncrementMinutes = 60;

    [ConfigurationKeyName(TokenVariable)]
    [BotToken]
    public string? BotToken { get; set => field = Setting.Clean(value); }

    [ConfigurationKeyName(ChannelVariable)]
    [TelegramChat("must be a numeric chat id (-100…) or @channelname")]
    public string? ChannelId { get; set => field = Setting.Clean(value); }

    [ConfigurationKeyName(BaseUrlVariable)]
    [BotApiUrl]
    public string? BaseUrl { get; set => field = Setting.Clean(value); }

    [ConfigurationKeyName(LocalApiVariable)]
    [TrueOrFalse]
    public string? LocalApiText { get; set => field = Setting.Clean(value); }

    /// <summary>Checked by <see cref="TelegramSinkOptionsValidator"/>: its bounds depend on <see cref="LocalApi"/>.</summary>
    [ConfigurationKeyName(PartSizeVariable)]
    public string? PartSizeMegabytes { get; set => field = Setting.Clean(value); }

    [ConfigurationKeyName(AlertChatVariable)]
    [TelegramChat("must be a numeric chat id or @channelname")]
    public string? AlertChat { get; set => field = Setting.Clean(value); }

    [ConfigurationKeyName(EncryptionKeyVariable)]
    [EncryptionKey]
    public string? EncryptionKey { get; set => field = Setting.Clean(value); }

    [ConfigurationKeyName(EncryptionPreviousKeysVariable)]
    public string? EncryptionPreviousKeys { get; set => field = Setting.Clean(value); }

    /// <summary>Checked by <see cref="TelegramSinkOptionsValidator"/>: a whole number of minutes from 1 to 60.</summary>
    [ConfigurationKeyName(IncrementMinutesVariable)]
    public string? IncrementMinutesText { get; set => field = Setting.Clean(value); }

    /// <summary>How often the increments due are sent as one batch.</summary>
    public TimeSpan IncrementPeriod => TimeSpan.FromMinutes(Setting.WholeNumber(IncrementMinutesText, DefaultIncrementMinutes));

    /// <summary>Any setting of the sink itself (the alert chat alone is not one).</summary>
    public bool Enabled =>
        BotToken is not null || ChannelId is not null || BaseUrl is not null || LocalApiText is not null
        || PartSizeMegabytes is not null || EncryptionKey is not null || EncryptionPreviousKeys is not null;

    public string Token => BotToken ?? "";
    public string Channel => ChannelId ?? "";

    /// <summary>The server is a local Bot API server (large uploads, downloads of any size); otherwise hosted limits apply.</summary>
    public bool LocalApi => bool.TryParse(LocalApiText, out var local) && local;

    /// <summary>The largest part size allowed: what the server serves back (hosted) or takes (local), never judged by the URL (it may be a proxy).</summary>
    public int MaxPartMegabytes => LocalApi ? TelegramLimits.LocalMaxPartMegabytes : TelegramLimits.HostedMaxPartMegabytes;

    public long PartSizeBytes => Setting.WholeNumber(PartSizeMegabytes, TelegramLimits.HostedMaxPartMegabytes) * 1024L * 1024;

    /// <summary>The keys of the Telegram copy: null when copies are uploaded unencrypted.</summary>
    public EncryptionKeyRing? EncryptionKeys => EncryptionKeySettings.Ring(EncryptionKey, EncryptionPreviousKeys);

    /// <summary>Never the token or a key: records print every property.</summary>
    public override string ToString() =>
        $"Telegram channel {Channel} via {BaseUrl ?? "the hosted Bot API"}{(LocalApi ? " (a local Bot API server)" : "")}" +
        (EncryptionKeys is not { } keys ? "" : $", encrypted with key {keys.PrimaryKeyId}");
}

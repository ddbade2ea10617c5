using System.Text.RegularExpressions;
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
/// </summary>
public sealed partial class TelegramSinkOptions : EnvironmentOptions
{
    public const string TokenVariable = "TELEGRAM_BOT_TOKEN";
    public const string ChannelVariable = "TELEGRAM_CHANNEL_ID";
    public const string BaseUrlVariable = "TELEGRAM_API_BASE_URL";
    public const string LocalApiVariable = "TELEGRAM_LOCAL_API";
    public const string PartSizeVariable = "TELEGRAM_PART_SIZE_MB";
    public const string AlertChatVariable = "TELEGRAM_ALERT_CHAT_ID";
    public const string EncryptionKeyVariable = "TELEGRAM_ENCRYPTION_KEY";
    public const string EncryptionPreviousKeysVariable = "TELEGRAM_ENCRYPTION_PREVIOUS_KEYS";

    public bool Enabled { get; private set; }
    public string Token { get; private set; } = "";
    public string Channel { get; private set; } = "";
    public string? BaseUrl { get; private set; }

    /// <summary>The server is a local Bot API server (large uploads, downloads of any size); otherwise hosted limits apply.</summary>
    public bool LocalApi { get; private set; }

    public long PartSizeBytes { get; private set; } = TelegramLimits.HostedMaxPartMegabytes * 1024L * 1024;
    public string? AlertChat { get; private set; }

    /// <summary>The keys of the Telegram copy: null when copies are uploaded unencrypted.</summary>
    public EncryptionKeyRing? EncryptionKeys { get; private set; }

    /// <summary>Never the token or a key: records print every property.</summary>
    public override string ToString() =>
        $"Telegram channel {Channel} via {BaseUrl ?? "the hosted Bot API"}{(LocalApi ? " (a local Bot API server)" : "")}" +
        (EncryptionKeys is null ? "" : $", encrypted with key {EncryptionKeys.PrimaryKeyId}");

    protected override void Read(SettingsReader settings)
    {
        var token = settings.Optional(TokenVariable);
        var channel = settings.Optional(ChannelVariable);
        BaseUrl = settings.Optional(BaseUrlVariable);
        var localApi = settings.Optional(LocalApiVariable);
        var partSize = settings.Optional(PartSizeVariable);
        AlertChat = settings.Optional(AlertChatVariable);
        var encryptionKey = settings.Optional(EncryptionKeyVariable);
        var previousKeys = settings.Optional(EncryptionPreviousKeysVariable);
        if (AlertChat is not null && !long.TryParse(AlertChat, out _) && !ChannelName().IsMatch(AlertChat))
        {
            settings.Fail(AlertChatVariable, "must be a numeric chat id or @channelname");
        }

        if (token is null && channel is null && BaseUrl is null && localApi is null && partSize is null && encryptionKey is null && previousKeys is null)
        {
            if (AlertChat is not null)
            {
                settings.Fail(TokenVariable, $"is required when {AlertChatVariable} is set");
            }

            return;
        }

        var others = $"{BaseUrlVariable}, {LocalApiVariable}, {PartSizeVariable} or {EncryptionKeyVariable}";
        if (token is null)
        {
            settings.Fail(TokenVariable, $"is required when {ChannelVariable}, {others} is set");
        }
        else if (!TokenShape().IsMatch(token))
        {
            settings.Fail(TokenVariable, "does not look like a bot token (digits, a colon, then the secret)");
        }

        if (channel is null)
        {
            settings.Fail(ChannelVariable, $"is required when {TokenVariable}, {others} is set");
        }
        else if (!long.TryParse(channel, out _) && !ChannelName().IsMatch(channel))
        {
            settings.Fail(ChannelVariable, "must be a numeric chat id (-100…) or @channelname");
        }

        if (BaseUrl is not null && (!Uri.TryCreate(BaseUrl, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https")))
        {
            settings.Fail(BaseUrlVariable, "must be the http(s) URL of a Bot API server, e.g. http://telegram-bot-api:8081");
        }

        LocalApi = settings.Bool(LocalApiVariable, false);
        if (LocalApi && BaseUrl is null)
        {
            settings.Fail(LocalApiVariable, $"is true but {BaseUrlVariable} is not set: a local Bot API server needs its URL");
        }

        // Bounded by what the server serves back (hosted) or takes (local), never by the URL: it may be a proxy.
        PartSizeBytes = LocalApi
            ? settings.WholeNumber(PartSizeVariable, TelegramLimits.HostedMaxPartMegabytes, 1, TelegramLimits.LocalMaxPartMegabytes,
                "a local Bot API server takes uploads up to 2000 MB") * 1024L * 1024
            : settings.WholeNumber(PartSizeVariable, TelegramLimits.HostedMaxPartMegabytes, 1, TelegramLimits.HostedMaxPartMegabytes,
                $"the hosted Bot API serves files up to 20 MB, so a restore could not fetch larger parts; with a local Bot API server set {LocalApiVariable}=true") * 1024L * 1024;

        EncryptionKeys = EncryptionKeySettings.Read(settings, EncryptionKeyVariable, EncryptionPreviousKeysVariable, required: false);
        if (AlertChat is not null && AlertChat == channel)
        {
            // Retention deletes unrecorded messages in the backup channel's id ranges: alerts there could go with them.
            settings.Fail(AlertChatVariable, $"must not be the backup channel ({ChannelVariable}): choose another chat for alerts");
        }

        Token = token ?? "";
        Channel = channel ?? "";
        Enabled = settings.Errors.Count == 0;
    }

    [GeneratedRegex(@"^\d+:[A-Za-z0-9_-]{20,}$")]
    private static partial Regex TokenShape();

    [GeneratedRegex(@"^@[A-Za-z][A-Za-z0-9_]{3,}$")]
    private static partial Regex ChannelName();
}

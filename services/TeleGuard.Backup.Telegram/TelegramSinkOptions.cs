using System.Text.RegularExpressions;
using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Telegram;

/// <summary>
/// <c>TELEGRAM_BOT_TOKEN</c>, <c>TELEGRAM_CHANNEL_ID</c> (<c>-100…</c> or <c>@name</c>), <c>TELEGRAM_API_BASE_URL</c>
/// (a local Bot API server; default the hosted API) and <c>TELEGRAM_PART_SIZE_MB</c> (default 19, so that the hosted
/// API's 20 MB <c>getFile</c> limit still allows a restore; up to 49 hosted, 1999 with a local server).
/// <c>TELEGRAM_ALERT_CHAT_ID</c> (optional): where alerts go, with the same bot.
/// </summary>
public sealed partial class TelegramSinkOptions : EnvironmentOptions
{
    public const string TokenVariable = "TELEGRAM_BOT_TOKEN";
    public const string ChannelVariable = "TELEGRAM_CHANNEL_ID";
    public const string BaseUrlVariable = "TELEGRAM_API_BASE_URL";
    public const string PartSizeVariable = "TELEGRAM_PART_SIZE_MB";
    public const string AlertChatVariable = "TELEGRAM_ALERT_CHAT_ID";

    public bool Enabled { get; private set; }
    public string Token { get; private set; } = "";
    public string Channel { get; private set; } = "";
    public string? BaseUrl { get; private set; }
    public long PartSizeBytes { get; private set; } = 19L * 1024 * 1024;
    public string? AlertChat { get; private set; }

    /// <summary>Never the token: records print every property.</summary>
    public override string ToString() => $"Telegram channel {Channel} via {BaseUrl ?? "the hosted Bot API"}";

    protected override void Read(SettingsReader settings)
    {
        var token = settings.Optional(TokenVariable);
        var channel = settings.Optional(ChannelVariable);
        BaseUrl = settings.Optional(BaseUrlVariable);
        var partSize = settings.Optional(PartSizeVariable);
        AlertChat = settings.Optional(AlertChatVariable);
        if (AlertChat is not null && !long.TryParse(AlertChat, out _) && !ChannelName().IsMatch(AlertChat))
        {
            settings.Fail(AlertChatVariable, "must be a numeric chat id or @channelname");
        }

        if (token is null && channel is null && BaseUrl is null && partSize is null)
        {
            if (AlertChat is not null)
            {
                settings.Fail(TokenVariable, $"is required when {AlertChatVariable} is set");
            }

            return;
        }

        if (token is null)
        {
            settings.Fail(TokenVariable, $"is required when {ChannelVariable}, {BaseUrlVariable} or {PartSizeVariable} is set");
        }
        else if (!TokenShape().IsMatch(token))
        {
            settings.Fail(TokenVariable, "does not look like a bot token (digits, a colon, then the secret)");
        }

        if (channel is null)
        {
            settings.Fail(ChannelVariable, $"is required when {TokenVariable}, {BaseUrlVariable} or {PartSizeVariable} is set");
        }
        else if (!long.TryParse(channel, out _) && !ChannelName().IsMatch(channel))
        {
            settings.Fail(ChannelVariable, "must be a numeric chat id (-100…) or @channelname");
        }

        if (BaseUrl is not null && (!Uri.TryCreate(BaseUrl, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https")))
        {
            settings.Fail(BaseUrlVariable, "must be the http(s) URL of a Bot API server, e.g. http://telegram-bot-api:8081");
        }

        // The hosted API refuses uploads over 50 MB; a local Bot API server takes up to 2000 MB.
        PartSizeBytes = settings.Int(PartSizeVariable, 19, 1, BaseUrl is null ? 49 : 1999) * 1024L * 1024;
        Token = token ?? "";
        Channel = channel ?? "";
        Enabled = settings.Errors.Count == 0;
    }

    [GeneratedRegex(@"^\d+:[A-Za-z0-9_-]{20,}$")]
    private static partial Regex TokenShape();

    [GeneratedRegex(@"^@[A-Za-z][A-Za-z0-9_]{3,}$")]
    private static partial Regex ChannelName();
}

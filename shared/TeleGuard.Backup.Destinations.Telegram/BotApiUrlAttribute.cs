using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>Unset, or the http(s) URL of a Bot API server.</summary>
public sealed class BotApiUrlAttribute : SettingRuleAttribute
{
    protected override string? ProblemWith(string? text) =>
        text is null || (Uri.TryCreate(text, UriKind.Absolute, out var url) && url.Scheme is "http" or "https")
            ? null
            : "must be the http(s) URL of a Bot API server, e.g. http://telegram-bot-api:8081";
}

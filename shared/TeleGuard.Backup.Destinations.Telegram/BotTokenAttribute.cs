using System.Text.RegularExpressions;
using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>Unset, or shaped like a bot token: digits, a colon, then the secret.</summary>
public sealed partial class BotTokenAttribute : SettingRuleAttribute
{
    protected override string? ProblemWith(string? text) =>
        text is null || TokenShape().IsMatch(text) ? null : "does not look like a bot token (digits, a colon, then the secret)";

    [GeneratedRegex(@"^\d+:[A-Za-z0-9_-]{20,}$")]
    private static partial Regex TokenShape();
}

using System.Globalization;
using System.Text.RegularExpressions;
using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>Unset, or a chat: a numeric id or <c>@name</c>; <paramref name="problem"/> says which the setting expects.</summary>
public sealed partial class TelegramChatAttribute(string problem) : SettingRuleAttribute
{
    public string Problem { get; } = problem;

    protected override string? ProblemWith(string? text) =>
        text is null || long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _) || ChannelName().IsMatch(text) ? null : Problem;

    [GeneratedRegex(@"^@[A-Za-z][A-Za-z0-9_]{3,}$")]
    private static partial Regex ChannelName();
}

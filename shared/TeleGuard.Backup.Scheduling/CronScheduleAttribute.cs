using Cronos;
using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Scheduling;

/// <summary>Unset, or a cron expression in UTC: five fields (minute resolution) or six (with seconds first).</summary>
public sealed class CronScheduleAttribute : SettingRuleAttribute
{
    public static bool TryParse(string text, out CronExpression expression)
    {
        var format = text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length == 6 ? CronFormat.IncludeSeconds : CronFormat.Standard;
        return CronExpression.TryParse(text, format, out expression!);
    }

    /// <summary>The schedule of validated text.</summary>
    public static CronExpression Parse(string text) =>
        TryParse(text, out var expression) ? expression : throw new FormatException("Not a valid cron expression.");

    protected override string? ProblemWith(string? text) =>
        text is null || TryParse(text, out _) ? null : "is not a valid cron expression (five fields, UTC, e.g. \"0 * * * *\")";
}

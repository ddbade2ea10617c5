using Cronos;
using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Scheduling;

public sealed class SchedulerOptions : EnvironmentOptions
{
    public const string BackupScheduleVariable = "BACKUP_SCHEDULE";
    public const string CleanupScheduleVariable = "CLEANUP_SCHEDULE";
    public const string RestoreDrillScheduleVariable = "RESTORE_DRILL_SCHEDULE";

    /// <summary><c>BACKUP_SCHEDULE</c>, cron in UTC (default hourly).</summary>
    public CronExpression BackupSchedule { get; private set; } = CronExpression.Hourly;

    /// <summary><c>CLEANUP_SCHEDULE</c>, cron in UTC (default every 8 hours at minute 5).</summary>
    public CronExpression CleanupSchedule { get; private set; } = CronExpression.Parse("5 */8 * * *");

    /// <summary><c>RESTORE_DRILL_SCHEDULE</c>, cron in UTC; unset (the default) runs no scheduled drill.</summary>
    public CronExpression? RestoreDrillSchedule { get; private set; }

    /// <summary><c>SCHEDULER_CATCH_UP</c>: after a restart, request the most recent slot of the last hour if it was missed.</summary>
    public bool CatchUp { get; private set; } = true;

    protected override void Read(SettingsReader settings)
    {
        BackupSchedule = ParseCron(settings, BackupScheduleVariable, "0 * * * *");
        CleanupSchedule = ParseCron(settings, CleanupScheduleVariable, "5 */8 * * *");
        RestoreDrillSchedule = settings.Optional(RestoreDrillScheduleVariable) is null ? null : ParseCron(settings, RestoreDrillScheduleVariable, "0 3 * * *");
        CatchUp = settings.Bool("SCHEDULER_CATCH_UP", true);
    }

    private static CronExpression ParseCron(SettingsReader settings, string name, string defaultValue)
    {
        var text = settings.OrDefault(name, defaultValue);
        // Five fields (minute resolution) or six (with seconds first).
        var format = text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length == 6 ? CronFormat.IncludeSeconds : CronFormat.Standard;
        if (CronExpression.TryParse(text, format, out var expression))
        {
            return expression;
        }

        settings.Fail(name, "is not a valid cron expression (five fields, UTC, e.g. \"0 * * * *\")");
        return CronExpression.Parse(defaultValue);
    }
}

using Cronos;
using Microsoft.Extensions.Configuration;
using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Scheduling;

public sealed class SchedulerOptions
{
    public const string BackupScheduleVariable = "BACKUP_SCHEDULE";
    public const string CleanupScheduleVariable = "CLEANUP_SCHEDULE";
    public const string RestoreDrillScheduleVariable = "RESTORE_DRILL_SCHEDULE";
    public const string CatchUpVariable = "SCHEDULER_CATCH_UP";

    [ConfigurationKeyName(BackupScheduleVariable)]
    [CronSchedule]
    public string? BackupScheduleText { get; set => field = Setting.Clean(value); }

    [ConfigurationKeyName(CleanupScheduleVariable)]
    [CronSchedule]
    public string? CleanupScheduleText { get; set => field = Setting.Clean(value); }

    [ConfigurationKeyName(RestoreDrillScheduleVariable)]
    [CronSchedule]
    public string? RestoreDrillScheduleText { get; set => field = Setting.Clean(value); }

    [ConfigurationKeyName(CatchUpVariable)]
    [TrueOrFalse]
    public string? CatchUpText { get; set => field = Setting.Clean(value); }

    /// <summary><c>BACKUP_SCHEDULE</c>, cron in UTC (default hourly).</summary>
    public CronExpression BackupSchedule => CronScheduleAttribute.Parse(BackupScheduleText ?? "0 * * * *");

    /// <summary><c>CLEANUP_SCHEDULE</c>, cron in UTC (default every 8 hours at minute 5).</summary>
    public CronExpression CleanupSchedule => CronScheduleAttribute.Parse(CleanupScheduleText ?? "5 */8 * * *");

    /// <summary><c>RESTORE_DRILL_SCHEDULE</c>, cron in UTC; unset (the default) runs no scheduled drill.</summary>
    public CronExpression? RestoreDrillSchedule => RestoreDrillScheduleText is null ? null : CronScheduleAttribute.Parse(RestoreDrillScheduleText);

    /// <summary><c>SCHEDULER_CATCH_UP</c>: after a restart, request the most recent slot of the last hour if it was missed.</summary>
    public bool CatchUp => Setting.TrueOrFalse(CatchUpText, true);
}

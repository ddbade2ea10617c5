using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Scheduler;

public static class SchedulerServiceRegistration
{
    /// <summary>
    /// The scheduler: publishes one SnapshotRequested / CleanupRequested per cron slot, and raises alerts about degraded
    /// snapshots and stale backups.
    /// </summary>
    public static IHostApplicationBuilder AddSchedulerService(this IHostApplicationBuilder builder)
    {
        builder.Services.AddEnvironmentOptions<SchedulerOptions>();
        builder.Services.AddScoped<SlotRequester>();
        builder.Services.AddHostedService<ScheduleLoop>();
        builder.Services.AddEnvironmentOptions<AlertOptions>();
        builder.Services.AddHostedService<BackupHealthWatcher>();
        return builder;
    }
}

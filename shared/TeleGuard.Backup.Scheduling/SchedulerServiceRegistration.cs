using TeleGuard.Backup.Configuration;
using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.Scheduling;

public static class SchedulerServiceRegistration
{
    /// <summary>
    /// The scheduler: publishes one SnapshotRequested / CleanupRequested / RestoreDrillRequested per cron slot, raises
    /// alerts about degraded snapshots and stale backups, and exports the age of the newest complete snapshot.
    /// </summary>
    public static IHostApplicationBuilder AddSchedulerService(this IHostApplicationBuilder builder)
    {
        builder.Services.AddEnvironmentOptions<SchedulerOptions, SchedulerOptionsValidator>();
        builder.Services.AddScoped<SlotRequester>();
        builder.Services.AddHostedService<ScheduleLoop>();
        builder.Services.AddEnvironmentOptions<AlertOptions, AlertOptionsValidator>();
        builder.Services.AddHostedService<BackupHealthWatcher>();
        builder.Services.AddHostedService<LastCompleteSnapshotProbe>(); // here only: one service polls backups_meta for it

        return builder;
    }
}

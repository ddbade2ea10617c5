using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Scheduler;

public static class SchedulerServiceRegistration
{
    /// <summary>The scheduler: publishes one SnapshotRequested / CleanupRequested per cron slot.</summary>
    public static IHostApplicationBuilder AddSchedulerService(this IHostApplicationBuilder builder)
    {
        builder.Services.AddEnvironmentOptions<SchedulerOptions>();
        builder.Services.AddScoped<SlotRequester>();
        builder.Services.AddHostedService<ScheduleLoop>();
        return builder;
    }
}

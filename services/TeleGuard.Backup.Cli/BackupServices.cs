using TeleGuard.Backup.Configuration;
using TeleGuard.Backup.Encryption;
using TeleGuard.Backup.GitHub;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Scheduler;
using TeleGuard.Backup.Snapshot;
using TeleGuard.Backup.Telegram;

namespace TeleGuard.Backup.Cli;

/// <summary>The same registrations as the individual services, composed into one process.</summary>
public static class BackupServices
{
    public static IHostApplicationBuilder AddAllBackupServices(this IHostApplicationBuilder builder, bool includeScheduler)
    {
        if (includeScheduler)
        {
            builder.AddSchedulerService();
        }

        builder.AddSnapshotService();
        builder.AddGitHubSinkService();
        builder.AddEncryptionSinkService();
        builder.AddTelegramSinkService();
        return builder;
    }

    /// <summary>The scheduled restore drill (off unless RESTORE_DRILL_SCHEDULE is set).</summary>
    public static IHostApplicationBuilder AddRestoreDrill(this IHostApplicationBuilder builder)
    {
        builder.Services.AddEnvironmentOptions<RestoreDrillOptions>();
        builder.Services.AddSingleton<RestoreDrill>();
        builder.Services.AddHostedService<RestoreDrillSchedule>();
        return builder;
    }

    public static bool UsesRabbitMq(IConfiguration configuration) => !string.IsNullOrWhiteSpace(configuration[BusOptions.RabbitMqUriVariable]);
}

using TeleGuard.Backup.Destinations.GitHub;
using TeleGuard.Backup.Destinations.Public;
using TeleGuard.Backup.Destinations.Telegram;
using TeleGuard.Backup.Export;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Scheduling;

namespace TeleGuard.Backup.Cli;

/// <summary>The same registrations as the individual services, composed into one process; and every destination's reader.</summary>
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
        builder.AddPublicSinkService();
        builder.AddTelegramSinkService();
        return builder;
    }

    /// <summary>Every destination a snapshot can be read back from (restore, verify, drill), found by name.</summary>
    public static IServiceCollection AddBackupDestinations(this IServiceCollection services)
    {
        services.AddGitHubDestination();
        services.AddPublicDestination();
        services.AddTelegramDestination();
        services.AddArtifactStoreDestination();
        return services;
    }

    public static bool UsesRabbitMq(IConfiguration configuration) => !string.IsNullOrWhiteSpace(configuration[BusOptions.RabbitMqUriVariable]);
}

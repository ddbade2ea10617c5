using Microsoft.Extensions.DependencyInjection.Extensions;
using MassTransit;
using TeleGuard.Backup.Configuration;
using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.Destinations.Public;

public static class PublicSinkRegistration
{
    /// <summary>The public destination's service: SnapshotCreated and IncrementCreated (encrypt + commit), CleanupRequested (retention), RestoreDrillRequested.</summary>
    public static IHostApplicationBuilder AddPublicSinkService(this IHostApplicationBuilder builder)
    {
        builder.Services.AddEnvironmentOptions<PublicSinkOptions, PublicSinkOptionsValidator>();
        builder.Services.AddPublicDestination();
        builder.Services.AddSnapshotSinkDefaults();
        builder.Services.AddSingleton<PublicSnapshotPublisher>();
        builder.Services.AddSingleton<PublicIncrementPublisher>();
        builder.Services.TryAddSingleton<IncrementArtifactFetcher>();
        builder.Services.AddBackupConsumers(x =>
        {
            x.AddConsumer<SnapshotCreatedConsumer, SnapshotCreatedConsumerDefinition>();
            x.AddConsumer<IncrementCreatedConsumer, IncrementCreatedConsumerDefinition>();
            x.AddConsumer<CleanupRequestedConsumer, CleanupRequestedConsumerDefinition>();
            x.AddConsumer<RestoreDrillRequestedConsumer, RestoreDrillRequestedConsumerDefinition>();
        });
        return builder;
    }

    /// <summary>
    /// Reading the public branch back (restore, verify, the drill): its options, checked when used rather than on start, so that a
    /// command that does not touch this destination is not stopped by its configuration.
    /// </summary>
    public static IServiceCollection AddPublicDestination(this IServiceCollection services)
    {
        services.AddEnvironmentOptions<PublicSinkOptions, PublicSinkOptionsValidator>(validateOnStart: false);
        services.AddBackupDestination<PublicDestination>();
        return services;
    }
}

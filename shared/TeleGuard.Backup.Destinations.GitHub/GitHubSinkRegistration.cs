using Microsoft.Extensions.DependencyInjection.Extensions;
using MassTransit;
using TeleGuard.Backup.Configuration;
using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.Destinations.GitHub;

public static class GitHubSinkRegistration
{
    /// <summary>
    /// The private repository's service: SnapshotCreated (commit), IncrementCreated (commit beside its base snapshot),
    /// CleanupRequested (compaction), RestoreDrillRequested.
    /// </summary>
    public static IHostApplicationBuilder AddGitHubSinkService(this IHostApplicationBuilder builder)
    {
        builder.Services.AddEnvironmentOptions<GitHubSinkOptions, GitHubSinkOptionsValidator>();
        builder.Services.AddGitHubDestination();
        builder.Services.AddSnapshotSinkDefaults();
        builder.Services.AddSingleton<GitHubSnapshotPublisher>();
        builder.Services.AddSingleton<GitHubIncrementPublisher>();
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
    /// Reading the private repository back (restore, verify, the drill): its options, checked when used rather than on
    /// start, so that a command that does not touch this destination is not stopped by its configuration.
    /// </summary>
    public static IServiceCollection AddGitHubDestination(this IServiceCollection services)
    {
        services.AddEnvironmentOptions<GitHubSinkOptions, GitHubSinkOptionsValidator>(validateOnStart: false);
        services.AddBackupDestination<GitHubDestination>();
        return services;
    }
}

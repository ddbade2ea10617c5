using MassTransit;
using TeleGuard.Backup.Configuration;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Sinks;

namespace TeleGuard.Backup.GitHub;

public static class GitHubSinkRegistration
{
    /// <summary>The GitHub sink: consumes SnapshotCreated (commit) and CleanupRequested (compaction).</summary>
    public static IHostApplicationBuilder AddGitHubSinkService(this IHostApplicationBuilder builder)
    {
        builder.Services.AddEnvironmentOptions<GitHubSinkOptions>();
        builder.Services.AddSnapshotSinkDefaults();
        builder.Services.AddSingleton<GitHubSnapshotPublisher>();
        builder.Services.AddBackupConsumers(x =>
        {
            x.AddConsumer<SnapshotCreatedConsumer, SnapshotCreatedConsumerDefinition>();
            x.AddConsumer<CleanupRequestedConsumer, CleanupRequestedConsumerDefinition>();
        });
        return builder;
    }
}

using MassTransit;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.GitHub;

/// <summary>Compacts the backup branch to one orphan commit holding the latest good snapshot.</summary>
public sealed class CleanupRequestedConsumer(GitHubSnapshotPublisher publisher, IOptions<GitHubSinkOptions> options)
    : IConsumer<CleanupRequested>
{
    public Task Consume(ConsumeContext<CleanupRequested> context) =>
        options.Value.Enabled ? publisher.CompactAsync(context.CancellationToken) : Task.CompletedTask;
}

public sealed class CleanupRequestedConsumerDefinition() : OneAtATimeConsumerDefinition<CleanupRequestedConsumer>("teleguard-github-cleanup");

using MassTransit;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations.GitHub;

/// <summary>Compacts the backup branch to one orphan commit holding the latest good snapshot.</summary>
public sealed class CleanupRequestedConsumer(GitHubSnapshotPublisher publisher, IOptions<GitHubSinkOptions> options, CleanupReporter reporter)
    : IConsumer<CleanupRequested>
{
    public Task Consume(ConsumeContext<CleanupRequested> context) =>
        reporter.RunAsync(context, BackupSinks.GitHub, async cancellationToken =>
            !options.Value.Enabled ? CleanupReporter.Disabled
            : await publisher.CompactAsync(cancellationToken) is { } commit ? $"compacted the branch to commit {commit}"
            : "nothing to compact");
}

public sealed class CleanupRequestedConsumerDefinition() : OneAtATimeConsumerDefinition<CleanupRequestedConsumer>("teleguard-github-cleanup");

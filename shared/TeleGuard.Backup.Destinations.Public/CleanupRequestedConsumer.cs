using MassTransit;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations.Public;

/// <summary>Retention on the public branch: older snapshots removed, the newest always kept, history rewritten to one commit.</summary>
public sealed class CleanupRequestedConsumer(PublicSnapshotPublisher publisher, IOptions<PublicSinkOptions> options, CleanupReporter reporter)
    : IConsumer<CleanupRequested>
{
    public Task Consume(ConsumeContext<CleanupRequested> context) =>
        reporter.RunAsync(context, BackupSinks.Public, async cancellationToken =>
        {
            if (!options.Value.Enabled)
            {
                return CleanupReporter.Disabled;
            }

            var removed = await publisher.CleanupAsync(cancellationToken);
            return removed.Count == 0 ? "removed no snapshot" : $"removed {removed.Count} snapshot{(removed.Count == 1 ? "" : "s")} ({string.Join(", ", removed)})";
        });
}

public sealed class CleanupRequestedConsumerDefinition() : OneAtATimeConsumerDefinition<CleanupRequestedConsumer>("teleguard-public-cleanup");

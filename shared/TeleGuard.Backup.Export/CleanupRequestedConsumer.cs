using MassTransit;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.Export;

public sealed class CleanupRequestedConsumer(ArtifactRetention retention, CleanupReporter reporter) : IConsumer<CleanupRequested>
{
    public Task Consume(ConsumeContext<CleanupRequested> context) =>
        reporter.RunAsync(context, CleanupReporter.ArtifactStoreDestination, async cancellationToken =>
        {
            var removed = await retention.ApplyAsync(cancellationToken);
            return $"removed {removed} artifact{(removed == 1 ? "" : "s")}";
        });
}

public sealed class CleanupRequestedConsumerDefinition() : OneAtATimeConsumerDefinition<CleanupRequestedConsumer>("teleguard-snapshot-cleanup");

using MassTransit;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.Snapshot;

public sealed class CleanupRequestedConsumer(ArtifactRetention retention) : IConsumer<CleanupRequested>
{
    public Task Consume(ConsumeContext<CleanupRequested> context) => retention.ApplyAsync(context.CancellationToken);
}

public sealed class CleanupRequestedConsumerDefinition() : OneAtATimeConsumerDefinition<CleanupRequestedConsumer>("teleguard-snapshot-cleanup");

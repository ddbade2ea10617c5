using MassTransit;
using TeleGuard.Backup.Contracts;

namespace TeleGuard.Backup.Snapshot;

public sealed class CleanupRequestedConsumer(ArtifactRetention retention) : IConsumer<CleanupRequested>
{
    public Task Consume(ConsumeContext<CleanupRequested> context) => retention.ApplyAsync(context.CancellationToken);
}

public sealed class CleanupRequestedConsumerDefinition : ConsumerDefinition<CleanupRequestedConsumer>
{
    public CleanupRequestedConsumerDefinition()
    {
        EndpointName = "teleguard-snapshot-cleanup";
        ConcurrentMessageLimit = 1;
    }
}

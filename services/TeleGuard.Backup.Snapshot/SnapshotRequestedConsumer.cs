using MassTransit;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.Snapshot;

public sealed class SnapshotRequestedConsumer(SnapshotProducer producer, IOptions<BusOptions> bus) : IConsumer<SnapshotRequested>
{
    public Task Consume(ConsumeContext<SnapshotRequested> context) =>
        producer.ProduceAsync(context.Message, context, context.GetRetryAttempt() >= bus.Value.RetryLimit, context.CancellationToken);
}

public sealed class SnapshotRequestedConsumerDefinition : ConsumerDefinition<SnapshotRequestedConsumer>
{
    public SnapshotRequestedConsumerDefinition()
    {
        EndpointName = "teleguard-snapshot";
        // An export is heavy (disk, memory, the database): one at a time per instance.
        ConcurrentMessageLimit = 1;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<SnapshotRequestedConsumer> consumerConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.PrefetchCount = 1;
    }
}

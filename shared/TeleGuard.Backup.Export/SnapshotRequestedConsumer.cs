using MassTransit;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.Export;

public sealed class SnapshotRequestedConsumer(SnapshotProducer producer, IOptions<BusOptions> bus) : IConsumer<SnapshotRequested>
{
    public Task Consume(ConsumeContext<SnapshotRequested> context) =>
        producer.ProduceAsync(context.Message, context, context.GetRetryAttempt() >= bus.Value.RetryLimit, context.CancellationToken);
}

public sealed class SnapshotRequestedConsumerDefinition() : OneAtATimeConsumerDefinition<SnapshotRequestedConsumer>("teleguard-snapshot");

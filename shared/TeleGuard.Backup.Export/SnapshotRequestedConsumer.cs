using MassTransit;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.Export;

/// <summary>
/// Records the request in backups_meta and hands it to the export runner, so the delivery is acknowledged within
/// moments: an export may take longer than RabbitMQ lets a delivery stay unacknowledged (<c>consumer_timeout</c>).
/// </summary>
public sealed class SnapshotRequestedConsumer(SnapshotProducer producer, SnapshotExportRunner runner) : IConsumer<SnapshotRequested>
{
    public async Task Consume(ConsumeContext<SnapshotRequested> context)
    {
        await producer.AcceptAsync(context.Message, context, context.CancellationToken);
        runner.Wake(context.Message.SnapshotId); // also for a duplicate: an in-process runner only takes what was requested through it
    }
}

public sealed class SnapshotRequestedConsumerDefinition() : OneAtATimeConsumerDefinition<SnapshotRequestedConsumer>("teleguard-snapshot");

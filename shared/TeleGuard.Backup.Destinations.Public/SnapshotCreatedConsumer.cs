using MassTransit;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations.Public;

public sealed class SnapshotCreatedConsumer(SnapshotSinkRunner runner, PublicSnapshotPublisher publisher, IOptions<PublicSinkOptions> options)
    : IConsumer<SnapshotCreated>
{
    public Task Consume(ConsumeContext<SnapshotCreated> context) =>
        runner.RunAsync(BackupSinks.Public, options.Value.Enabled, context, ct => publisher.PublishAsync(context.Message, ct));
}

public sealed class SnapshotCreatedConsumerDefinition() : OneAtATimeConsumerDefinition<SnapshotCreatedConsumer>("teleguard-public");

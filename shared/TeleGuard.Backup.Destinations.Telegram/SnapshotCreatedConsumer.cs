using MassTransit;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations.Telegram;

public sealed class SnapshotCreatedConsumer(SnapshotSinkRunner runner, TelegramUploader uploader, IOptions<TelegramSinkOptions> options)
    : IConsumer<SnapshotCreated>
{
    public Task Consume(ConsumeContext<SnapshotCreated> context) =>
        runner.RunAsync(BackupSinks.Telegram, options.Value.Enabled, context, (owner, ct) => uploader.UploadAsync(context.Message, owner, ct));
}

public sealed class SnapshotCreatedConsumerDefinition() : OneAtATimeConsumerDefinition<SnapshotCreatedConsumer>("teleguard-telegram");

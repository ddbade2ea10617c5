using MassTransit;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Telegram;

public sealed class CleanupRequestedConsumer(TelegramRetention retention, IOptions<TelegramSinkOptions> options, CleanupReporter reporter)
    : IConsumer<CleanupRequested>
{
    public Task Consume(ConsumeContext<CleanupRequested> context) =>
        reporter.RunAsync(context, BackupSinks.Telegram, async cancellationToken =>
        {
            if (!options.Value.Enabled)
            {
                return CleanupReporter.Disabled;
            }

            var deleted = await retention.ApplyAsync(cancellationToken);
            return $"deleted {deleted} message{(deleted == 1 ? "" : "s")}";
        });
}

public sealed class CleanupRequestedConsumerDefinition() : OneAtATimeConsumerDefinition<CleanupRequestedConsumer>("teleguard-telegram-cleanup");

using MassTransit;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations.Telegram;

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

            var (deleted, undeletable) = await retention.ApplyAsync(cancellationToken);
            var summary = $"deleted {deleted} message{(deleted == 1 ? "" : "s")}";
            return undeletable == 0
                ? summary
                : $"{summary}; {undeletable} too old for a bot to delete stay in the channel (listed in backups_meta: delete them by hand)";
        });
}

public sealed class CleanupRequestedConsumerDefinition() : OneAtATimeConsumerDefinition<CleanupRequestedConsumer>("teleguard-telegram-cleanup");

using MassTransit;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.Telegram;

public sealed class CleanupRequestedConsumer(TelegramRetention retention, IOptions<TelegramSinkOptions> options) : IConsumer<CleanupRequested>
{
    public Task Consume(ConsumeContext<CleanupRequested> context) =>
        options.Value.Enabled ? retention.ApplyAsync(context.CancellationToken) : Task.CompletedTask;
}

public sealed class CleanupRequestedConsumerDefinition() : OneAtATimeConsumerDefinition<CleanupRequestedConsumer>("teleguard-telegram-cleanup");

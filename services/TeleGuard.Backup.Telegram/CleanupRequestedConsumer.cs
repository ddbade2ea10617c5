using MassTransit;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Contracts;

namespace TeleGuard.Backup.Telegram;

public sealed class CleanupRequestedConsumer(TelegramRetention retention, IOptions<TelegramSinkOptions> options) : IConsumer<CleanupRequested>
{
    public Task Consume(ConsumeContext<CleanupRequested> context) =>
        options.Value.Enabled ? retention.ApplyAsync(context.CancellationToken) : Task.CompletedTask;
}

public sealed class CleanupRequestedConsumerDefinition : ConsumerDefinition<CleanupRequestedConsumer>
{
    public CleanupRequestedConsumerDefinition()
    {
        EndpointName = "teleguard-telegram-cleanup";
        ConcurrentMessageLimit = 1;
    }
}

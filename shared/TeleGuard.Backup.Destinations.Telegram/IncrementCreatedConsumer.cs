using MassTransit;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>
/// Marks the increment as due in Telegram (its record's <c>sinks.telegram</c>); <see cref="TelegramIncrementSender"/>
/// sends what is due once per period. A redelivered message finds the mark (or the copy) and changes nothing.
/// </summary>
public sealed class IncrementCreatedConsumer(IncrementsStore increments, IOptions<TelegramSinkOptions> options, TimeProvider time)
    : IConsumer<IncrementCreated>
{
    public async Task Consume(ConsumeContext<IncrementCreated> context)
    {
        if (!options.Value.Enabled)
        {
            return;
        }

        if (await increments.GetAsync(context.Message.IncrementId, context.CancellationToken) is null)
        {
            throw new PermanentFailureException($"Telegram: increment {context.Message.IncrementId} is announced but has no record in backups_meta.");
        }

        await increments.MarkSinkDueAsync(context.Message.IncrementId, BackupSinks.Telegram, time.GetUtcNow().UtcDateTime, context.CancellationToken);
    }
}

public sealed class IncrementCreatedConsumerDefinition() : OneAtATimeConsumerDefinition<IncrementCreatedConsumer>("teleguard-telegram-increments");

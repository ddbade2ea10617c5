using MassTransit;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>Forwards alerts to <c>TELEGRAM_ALERT_CHAT_ID</c> when it is set (they are logged where they are raised).</summary>
public sealed partial class BackupAlertRaisedConsumer(TelegramChannel channel, IOptions<TelegramSinkOptions> options, ILogger<BackupAlertRaisedConsumer> logger)
    : IConsumer<BackupAlertRaised>
{
    public async Task Consume(ConsumeContext<BackupAlertRaised> context)
    {
        if (options.Value.AlertChat is not { } chat)
        {
            return;
        }

        await channel.SendTextAsync(chat, context.Message.Text, context.CancellationToken);
        LogAlertSent(logger, context.Message.AlertId);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Alert {AlertId} sent to the Telegram alert chat")]
    private static partial void LogAlertSent(ILogger logger, string alertId);
}

public sealed class BackupAlertRaisedConsumerDefinition() : OneAtATimeConsumerDefinition<BackupAlertRaisedConsumer>("teleguard-telegram-alerts");

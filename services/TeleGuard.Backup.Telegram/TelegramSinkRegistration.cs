using MassTransit;
using TeleGuard.Backup.Configuration;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Sinks;

namespace TeleGuard.Backup.Telegram;

public static class TelegramSinkRegistration
{
    /// <summary>The Telegram sink: uploads (SnapshotCreated), retention (CleanupRequested, and once at start-up), alerts to TELEGRAM_ALERT_CHAT_ID.</summary>
    public static IHostApplicationBuilder AddTelegramSinkService(this IHostApplicationBuilder builder)
    {
        builder.Services.AddEnvironmentOptions<TelegramSinkOptions>();
        builder.Services.AddSnapshotSinkDefaults();
        builder.Services.AddSingleton<TelegramChannel>();
        builder.Services.AddSingleton<TelegramUploader>();
        builder.Services.AddSingleton<TelegramRetention>();
        builder.Services.AddHostedService<TelegramRetentionOnStart>();
        builder.Services.AddBackupConsumers(x =>
        {
            x.AddConsumer<SnapshotCreatedConsumer, SnapshotCreatedConsumerDefinition>();
            x.AddConsumer<CleanupRequestedConsumer, CleanupRequestedConsumerDefinition>();
            x.AddConsumer<BackupAlertRaisedConsumer, BackupAlertRaisedConsumerDefinition>();
        });
        return builder;
    }
}

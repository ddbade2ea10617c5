using MassTransit;
using TeleGuard.Backup.Configuration;
using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.Destinations.Telegram;

public static class TelegramSinkRegistration
{
    /// <summary>The Telegram service: uploads (SnapshotCreated), increments (IncrementCreated, sent in batches every TELEGRAM_INCREMENT_MINUTES), retention (CleanupRequested, and once at start-up), RestoreDrillRequested, alerts to TELEGRAM_ALERT_CHAT_ID.</summary>
    public static IHostApplicationBuilder AddTelegramSinkService(this IHostApplicationBuilder builder)
    {
        builder.Services.AddEnvironmentOptions<TelegramSinkOptions, TelegramSinkOptionsValidator>();
        builder.Services.AddTelegramDestination();
        builder.Services.AddSnapshotSinkDefaults();
        builder.Services.AddSingleton<TelegramChannel>();
        builder.Services.AddSingleton<TelegramBatchStore>();
        builder.Services.AddSingleton<TelegramMessageRecords>();
        builder.Services.AddSingleton<TelegramArchiveSender>();
        builder.Services.AddSingleton<TelegramUploader>();
        builder.Services.AddSingleton<TelegramIncrementBatcher>();
        builder.Services.AddHostedService<TelegramIncrementSender>();
        builder.Services.AddSingleton<TelegramRetention>();
        builder.Services.AddHostedService<TelegramRetentionOnStart>();
        builder.Services.AddBackupConsumers(x =>
        {
            x.AddConsumer<SnapshotCreatedConsumer, SnapshotCreatedConsumerDefinition>();
            x.AddConsumer<IncrementCreatedConsumer, IncrementCreatedConsumerDefinition>();
            x.AddConsumer<CleanupRequestedConsumer, CleanupRequestedConsumerDefinition>();
            x.AddConsumer<RestoreDrillRequestedConsumer, RestoreDrillRequestedConsumerDefinition>();
            x.AddConsumer<BackupAlertRaisedConsumer, BackupAlertRaisedConsumerDefinition>();
        });
        return builder;
    }

    /// <summary>
    /// Reading the Telegram channel back (restore, verify, the drill): its options, checked when used rather than on start, so that a
    /// command that does not touch this destination is not stopped by its configuration.
    /// </summary>
    public static IServiceCollection AddTelegramDestination(this IServiceCollection services)
    {
        services.AddEnvironmentOptions<TelegramSinkOptions, TelegramSinkOptionsValidator>(validateOnStart: false);
        services.AddBackupDestination<TelegramDestination>();
        return services;
    }
}

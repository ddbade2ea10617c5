using MassTransit;
using TeleGuard.Backup.Configuration;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Sinks;

namespace TeleGuard.Backup.Encryption;

public static class EncryptionSinkRegistration
{
    /// <summary>The encryption sink: consumes SnapshotCreated (encrypt + commit) and CleanupRequested (retention).</summary>
    public static IHostApplicationBuilder AddEncryptionSinkService(this IHostApplicationBuilder builder)
    {
        builder.Services.AddEnvironmentOptions<EncryptionSinkOptions>();
        builder.Services.AddSnapshotSinkDefaults();
        builder.Services.AddSingleton<EncryptedSnapshotPublisher>();
        builder.Services.AddBackupConsumers(x =>
        {
            x.AddConsumer<SnapshotCreatedConsumer, SnapshotCreatedConsumerDefinition>();
            x.AddConsumer<CleanupRequestedConsumer, CleanupRequestedConsumerDefinition>();
        });
        return builder;
    }
}

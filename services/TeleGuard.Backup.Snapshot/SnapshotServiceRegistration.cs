using MassTransit;
using MongoDB.Driver;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Configuration;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Snapshots;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Snapshot;

public static class SnapshotServiceRegistration
{
    /// <summary>The snapshot service: consumes SnapshotRequested (export) and CleanupRequested (artifact retention).</summary>
    public static IHostApplicationBuilder AddSnapshotService(this IHostApplicationBuilder builder)
    {
        builder.Services.AddEnvironmentOptions<SnapshotServiceOptions>();
        builder.Services.AddSingleton(sp => new SnapshotExporter(
            sp.GetRequiredService<IMongoClient>(),
            sp.GetRequiredService<IOptions<MongoOptions>>().Value.DatabaseName,
            sp.GetRequiredService<ILogger<SnapshotExporter>>()));
        builder.Services.AddSingleton<SnapshotProducer>();
        builder.Services.AddSingleton<ArtifactRetention>();
        builder.Services.AddBackupConsumers(x =>
        {
            x.AddConsumer<SnapshotRequestedConsumer, SnapshotRequestedConsumerDefinition>();
            x.AddConsumer<CleanupRequestedConsumer, CleanupRequestedConsumerDefinition>();
        });
        return builder;
    }
}

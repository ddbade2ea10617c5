using MassTransit;
using Microsoft.Extensions.Options;
using MongoDB.Driver;
using TeleGuard.Backup.Configuration;
using TeleGuard.Backup.Destinations;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Export;

public static class SnapshotServiceRegistration
{
    /// <summary>The snapshot service: SnapshotRequested (export), CleanupRequested (artifact retention), RestoreDrillRequested (of the store).</summary>
    public static IHostApplicationBuilder AddSnapshotService(this IHostApplicationBuilder builder)
    {
        builder.Services.AddEnvironmentOptions<SnapshotServiceOptions, SnapshotServiceOptionsValidator>();
        builder.Services.AddSingleton(sp => new SnapshotExporter(
            sp.GetRequiredService<IMongoClient>(),
            sp.GetRequiredService<IOptions<MongoOptions>>().Value.DatabaseName,
            sp.GetRequiredService<ILogger<SnapshotExporter>>()));
        builder.Services.AddSingleton<SnapshotProducer>();
        builder.Services.AddOptions<SnapshotExportRunnerOptions>();
        builder.Services.AddSingleton<SnapshotExportRunner>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<SnapshotExportRunner>());
        builder.Services.AddSingleton<ArtifactRetention>();
        builder.Services.AddArtifactStoreDestination();
        builder.Services.AddBackupConsumers(x =>
        {
            x.AddConsumer<SnapshotRequestedConsumer, SnapshotRequestedConsumerDefinition>();
            x.AddConsumer<CleanupRequestedConsumer, CleanupRequestedConsumerDefinition>();
            x.AddConsumer<RestoreDrillRequestedConsumer, RestoreDrillRequestedConsumerDefinition>();
        });
        return builder;
    }

    /// <summary>Reading a snapshot back from the artifact store (restore, verify, the drill).</summary>
    public static IServiceCollection AddArtifactStoreDestination(this IServiceCollection services) =>
        services.AddBackupDestination<ArtifactStoreDestination>();
}

using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MongoDB.Driver;
using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Storage;

public static class StorageRegistration
{
    /// <summary>MongoDB (<c>MONGODB_URI</c>), <c>backups_meta</c>, the artifact store and Redis, validated at start-up.</summary>
    public static IServiceCollection AddBackupStorage(this IServiceCollection services)
    {
        services.AddEnvironmentOptions<MongoOptions, MongoOptionsValidator>();
        services.AddEnvironmentOptions<RedisOptions, RedisOptionsValidator>();
        services.AddEnvironmentOptions<ArtifactStoreOptions, ArtifactStoreOptionsValidator>();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IMongoClient>(sp => new MongoClient(sp.GetRequiredService<IOptions<MongoOptions>>().Value.ConnectionString));
        services.TryAddSingleton(sp => sp.GetRequiredService<IMongoClient>().GetDatabase(sp.GetRequiredService<IOptions<MongoOptions>>().Value.DatabaseName));
        services.TryAddSingleton<BackupsMetaFallback>();
        services.TryAddSingleton(sp => new BackupsMetaStore(
            sp.GetRequiredService<IMongoDatabase>(),
            sp.GetRequiredService<TimeProvider>(),
            fallback: sp.GetRequiredService<BackupsMetaFallback>(),
            logger: sp.GetRequiredService<ILogger<BackupsMetaStore>>()));
        services.TryAddSingleton(sp => new IncrementsStore(sp.GetRequiredService<IMongoDatabase>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, BackupsMetaReplayService>());
        services.TryAddSingleton<IArtifactStore>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<ArtifactStoreOptions>>().Value;
            var gridFs = new GridFsArtifactStore(
                sp.GetRequiredService<IMongoClient>().GetDatabase(options.Database), options.GridFsBucket, legacyDatabase: sp.GetRequiredService<IMongoDatabase>());
            var directory = options.Directory is { } path ? new DirectoryArtifactStore(path) : null;
            return new RoutingArtifactStore(options.Kind == "directory" ? directory! : gridFs, gridFs, directory);
        });
        services.TryAddSingleton<RedisConnection>();
        services.TryAddSingleton<RedisLocks>();
        return services;
    }
}

using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Destinations;

public static class SinkRegistration
{
    /// <summary>What every sink uses; safe to call from each sink's registration in a composed host.</summary>
    public static IServiceCollection AddSnapshotSinkDefaults(this IServiceCollection services)
    {
        services.AddEnvironmentOptions<SinkLeaseOptions, SinkLeaseOptionsValidator>();
        services.TryAddSingleton<SnapshotSinkRunner>();
        services.TryAddSingleton<SnapshotArtifactFetcher>();
        return services;
    }
}

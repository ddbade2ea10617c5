using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace TeleGuard.Backup.Destinations;

public static class DestinationRegistration
{
    /// <summary>
    /// Registers a destination's reader (as itself, for its own service's drill, and among every
    /// <see cref="IBackupDestination"/>) once, however many registrations of a composed host ask for it.
    /// </summary>
    public static IServiceCollection AddBackupDestination<TDestination>(this IServiceCollection services)
        where TDestination : class, IBackupDestination
    {
        services.TryAddSingleton<TDestination>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IBackupDestination, TDestination>());
        services.TryAddSingleton<RestoreDrill>();
        return services;
    }

    /// <summary>The destination called <paramref name="name"/>, or null when this host has none of that name.</summary>
    public static IBackupDestination? Find(this IEnumerable<IBackupDestination> destinations, string name) =>
        destinations.SingleOrDefault(d => d.Name == name);
}

using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace TeleGuard.Backup.Configuration;

public static class EnvironmentOptionsRegistration
{
    /// <summary>
    /// Binds <typeparamref name="TOptions"/> from configuration (once, however many registrations of a composed host ask
    /// for it) and, unless <paramref name="validateOnStart"/> is false, validates it when the host starts. Options not
    /// validated on start still refuse to be used when invalid (reading them throws, naming the variables).
    /// </summary>
    public static IServiceCollection AddEnvironmentOptions<TOptions>(this IServiceCollection services, bool validateOnStart = true)
        where TOptions : EnvironmentOptions
    {
        if (!services.Any(d => d.ServiceType == typeof(EnvironmentOptionsBinding<TOptions>)))
        {
            services.AddSingleton<EnvironmentOptionsBinding<TOptions>>();
            services.AddOptions<TOptions>().Configure<IConfiguration>((options, configuration) => options.Load(configuration));
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TOptions>, EnvironmentOptionsValidator<TOptions>>());
        }

        if (validateOnStart)
        {
            services.AddOptions<TOptions>().ValidateOnStart();
        }

        return services;
    }

    // Marks options already bound, so that a second registration does not bind them twice.
    private sealed class EnvironmentOptionsBinding<TOptions>;
}

using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace TeleGuard.Backup.Configuration;

public static class EnvironmentOptionsRegistration
{
    /// <summary>
    /// Binds <typeparamref name="TOptions"/> from configuration (its properties name their variables with
    /// <see cref="ConfigurationKeyNameAttribute"/>), validated by <typeparamref name="TValidator"/>, once however many
    /// registrations of a composed host ask for it; unless <paramref name="validateOnStart"/> is false, it is validated
    /// when the host starts. Options not validated on start still refuse to be used when invalid (reading them throws
    /// <see cref="OptionsValidationException"/>, naming the variables).
    /// </summary>
    public static IServiceCollection AddEnvironmentOptions<TOptions, TValidator>(this IServiceCollection services, bool validateOnStart = true)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>
    {
        if (!services.Any(d => d.ServiceType == typeof(EnvironmentOptionsBinding<TOptions>)))
        {
            services.AddSingleton<EnvironmentOptionsBinding<TOptions>>();
            // Settings are copied as text: nothing parses a value here, so nothing can quote one in an exception or
            // stop at the first bad one; the validator parses and reports them all.
            services.AddOptions<TOptions>().Configure<IConfiguration>((options, configuration) => SettingsBinder.Bind(configuration, options));
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TOptions>, TValidator>());
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

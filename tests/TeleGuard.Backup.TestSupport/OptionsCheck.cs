using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.TestSupport;

/// <summary>Binds options from variables through the real registration (binder and validator).</summary>
public static class OptionsCheck
{
    public static CheckedOptions<TOptions> Bind<TOptions, TValidator>(IDictionary<string, string?> variables)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(variables).Build();
        using var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(configuration)
            .AddEnvironmentOptions<TOptions, TValidator>(validateOnStart: false)
            .BuildServiceProvider();
        try
        {
            return new CheckedOptions<TOptions>(services.GetRequiredService<IOptions<TOptions>>().Value, []);
        }
        catch (OptionsValidationException e)
        {
            return new CheckedOptions<TOptions>(null, e.Failures.ToList());
        }
    }
}

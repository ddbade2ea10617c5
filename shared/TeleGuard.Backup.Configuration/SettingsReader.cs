using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace TeleGuard.Backup.Configuration;

/// <summary>
/// Reads settings by their environment variable names and collects problems as messages that name the variable and
/// never its value (values may be secrets, and URIs may carry passwords).
/// </summary>
public sealed class SettingsReader(IConfiguration configuration)
{
    private readonly List<string> _errors = [];

    public IReadOnlyList<string> Errors => _errors;

    public string? Optional(string name)
    {
        var value = configuration[name];
        return string.IsNullOrWhiteSpace(value) ? null : value.Trim();
    }

    public string Required(string name)
    {
        var value = Optional(name);
        if (value is null)
        {
            Fail(name, "is required but not set");
            return "";
        }

        return value;
    }

    public string OrDefault(string name, string defaultValue) => Optional(name) ?? defaultValue;

    /// <param name="why">Said after the bounds when the value is refused: why they are what they are.</param>
    public int Int(string name, int defaultValue, int min, int max, string? why = null)
    {
        var text = Optional(name);
        if (text is null)
        {
            return defaultValue;
        }

        if (!int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var value)
            || value < min || value > max)
        {
            Fail(name, $"must be a whole number from {min} to {max}{(why is null ? "" : $" ({why})")}");
            return defaultValue;
        }

        return value;
    }

    public bool Bool(string name, bool defaultValue)
    {
        var text = Optional(name);
        if (text is null)
        {
            return defaultValue;
        }

        if (!bool.TryParse(text, out var value))
        {
            Fail(name, "must be true or false");
            return defaultValue;
        }

        return value;
    }

    public void Fail(string name, string problem) => _errors.Add($"{name} {problem}.");
}

/// <summary>
/// Options read from environment variables (SYSTEM.md §6 names). Problems found while reading are kept and reported by
/// <see cref="EnvironmentOptionsValidator{TOptions}"/> when the host starts (ValidateOnStart), so a service with bad
/// configuration stops before doing anything, with every problem listed.
/// </summary>
public abstract class EnvironmentOptions
{
    private IReadOnlyList<string> _errors = [];

    public IReadOnlyList<string> ConfigurationErrors => _errors;

    public void Load(IConfiguration configuration)
    {
        var reader = new SettingsReader(configuration);
        Read(reader);
        _errors = reader.Errors.ToList();
    }

    protected abstract void Read(SettingsReader settings);
}

public sealed class EnvironmentOptionsValidator<TOptions> : IValidateOptions<TOptions>
    where TOptions : EnvironmentOptions
{
    public ValidateOptionsResult Validate(string? name, TOptions options) =>
        options.ConfigurationErrors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(options.ConfigurationErrors);
}

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

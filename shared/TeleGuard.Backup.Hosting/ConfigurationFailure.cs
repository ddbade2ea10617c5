using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace TeleGuard.Backup.Hosting;

/// <summary>Start-up failures reported without stack traces or values: the variable names and what is wrong.</summary>
public static class ConfigurationFailure
{
    public const int ExitCode = 2;

    public static int Report(OptionsValidationException exception)
    {
        // One line, every variable named: each failure says what is wrong without quoting the value.
        var failures = exception.Failures.Distinct().Select(f => f.EndsWith('.') ? f : f + ".");
        Console.Error.WriteLine($"teleguard-backup: configuration error: {string.Join(" ", failures)}");
        return ExitCode;
    }

    /// <summary>
    /// Validates every option registered with ValidateOnStart before anything starts (no log line, no stack trace);
    /// returns the exit code to stop with, or null when the configuration is valid.
    /// </summary>
    public static int? Check(IServiceProvider services)
    {
        try
        {
            services.GetService<IStartupValidator>()?.Validate();
            return null;
        }
        catch (OptionsValidationException e)
        {
            return Report(e);
        }
        catch (AggregateException e) when (e.InnerExceptions.All(x => x is OptionsValidationException))
        {
            var failures = e.InnerExceptions.OfType<OptionsValidationException>().SelectMany(x => x.Failures).ToList();
            return Report(new OptionsValidationException("configuration", typeof(object), failures));
        }
    }
}

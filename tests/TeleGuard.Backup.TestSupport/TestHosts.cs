using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace TeleGuard.Backup.TestSupport;

public static class TestHosts
{
    /// <summary>
    /// A host builder that sees only <paramref name="settings"/> as its configuration: never the test process's own
    /// environment (which holds services.env), so each test states every variable it relies on.
    /// </summary>
    public static HostApplicationBuilder CreateBuilder(IDictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            DisableDefaults = true,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.AddInMemoryCollection(settings);
        return builder;
    }

    /// <summary>Polls <paramref name="probe"/> until it returns a value or the timeout passes.</summary>
    public static async Task<T> EventuallyAsync<T>(Func<Task<T?>> probe, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var value = await probe();
            if (value is not null)
            {
                return value;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0} s waiting for {what}.");
            }

            await Task.Delay(200);
        }
    }
}

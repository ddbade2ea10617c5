using TeleGuard.Backup.Export;
using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.Cli;

/// <summary>
/// The host of a command that asks the services for work (<c>snapshot</c>, <c>cleanup</c>): with <c>RABBITMQ_URI</c> a
/// bus client of the running services; without it every service runs in this process (no scheduler), so the command
/// must wait for the work to end.
/// </summary>
public static class RequestingHost
{
    public static (HostApplicationBuilder Builder, bool InProcess) CreateBuilder()
    {
        var builder = OneShotHost.CreateBuilder();
        var inProcess = !BackupServices.UsesRabbitMq(builder.Configuration);
        if (inProcess)
        {
            builder.AddAllBackupServices(includeScheduler: false);
            // This process exits when its own request is done: its exporter takes no one else's export.
            builder.Services.Configure<SnapshotExportRunnerOptions>(runner => runner.OnlyRequestsAcceptedHere = true);
        }

        return (builder, inProcess);
    }

    /// <summary>
    /// Adds the bus, checks the configuration (exit 2 naming what is wrong), optionally that MongoDB answers, starts the
    /// host, runs <paramref name="request"/> and stops the host whatever happens.
    /// </summary>
    public static async Task<int> RunAsync(HostApplicationBuilder builder, bool needsDatabase, Func<IHost, Task<int>> request)
    {
        builder.AddBackupBus();
        using var host = builder.Build();
        if (ConfigurationFailure.Check(host.Services) is { } exitCode)
        {
            return exitCode;
        }

        if (needsDatabase)
        {
            await BackupDatabase.EnsureReachableAsync(host.Services);
        }

        await host.StartAsync();
        try
        {
            return await request(host);
        }
        finally
        {
            await host.StopAsync();
        }
    }
}

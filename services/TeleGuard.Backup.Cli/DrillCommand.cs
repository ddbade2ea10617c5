using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.Cli;

/// <summary><c>drill</c>: the restore drill once, now.</summary>
public static class DrillCommand
{
    public static async Task<int> ExecuteAsync(CommandOptions options)
    {
        options.RejectUnknown();
        var builder = OneShotHost.CreateBuilder();
        builder.AddRestoreDrill();
        using var host = builder.Build();
        if (ConfigurationFailure.Check(host.Services) is { } exitCode)
        {
            return exitCode;
        }

        await BackupDatabase.EnsureReachableAsync(host.Services);
        var results = await host.Services.GetRequiredService<RestoreDrill>().RunAsync(CancellationToken.None);
        foreach (var (destination, snapshot, ok, error) in results)
        {
            Console.WriteLine(ok ? $"{destination}: snapshot {snapshot} verified" : $"{destination}: FAILED ({error})");
        }

        return results.All(r => r.Ok) ? 0 : 1;
    }
}

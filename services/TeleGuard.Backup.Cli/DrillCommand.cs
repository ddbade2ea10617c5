using System.CommandLine;
using TeleGuard.Backup.Destinations;
using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.Cli;

/// <summary><c>drill</c>: the restore drill of every configured destination and the store, once, now.</summary>
public static class DrillCommand
{
    public static Command Create()
    {
        var command = new CommandWithExamples("drill",
            "Restore drill now: verify the latest snapshot from every configured destination and the store, and record the results in backups_meta; exit 0 only when all pass.",
            "teleguard-backup drill");
        command.SetAction(_ => ExecuteAsync());
        return command;
    }

    public static async Task<int> ExecuteAsync()
    {
        var builder = OneShotHost.CreateBuilder();
        builder.Services.AddBackupDestinations();
        using var host = builder.Build();
        if (ConfigurationFailure.Check(host.Services) is { } exitCode)
        {
            return exitCode;
        }

        await BackupDatabase.EnsureReachableAsync(host.Services);
        var drill = host.Services.GetRequiredService<RestoreDrill>();
        var results = new List<RestoreDrillResult>();
        foreach (var destination in host.Services.GetServices<IBackupDestination>().Where(d => d.IsEnabled))
        {
            results.Add(await drill.RunAsync(destination, CancellationToken.None));
        }

        foreach (var result in results)
        {
            Console.WriteLine(result.Ok ? $"{result.Destination}: snapshot {result.SnapshotId} verified" : $"{result.Destination}: FAILED ({result.Error})");
        }

        return results.All(r => r.Ok) ? 0 : 1;
    }
}

using System.CommandLine;
using TeleGuard.Backup.Destinations;
using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.Cli;

/// <summary><c>drill</c>: the restore drill of every configured destination and the store, once, now.</summary>
public static class DrillCommand
{
    public static Command Create()
    {
        var toTime = SnapshotSource.ToTimeOption(
            "also verify the change history up to this time (or latest: its end) from every destination that holds increments: the snapshot it starts from, every increment and the chain");
        var command = new CommandWithExamples("drill",
            "Restore drill now: verify the latest snapshot from every configured destination and the store, and record the results in backups_meta; exit 0 only when all pass.",
            "teleguard-backup drill",
            "teleguard-backup drill --to-time latest")
        {
            toTime,
        };
        command.SetAction(result => ExecuteAsync(result.GetValue(toTime)));
        return command;
    }

    public static async Task<int> ExecuteAsync(PointInTimeTarget? toTime = null)
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

        var historyOk = true;
        if (toTime is not null)
        {
            foreach (var destination in host.Services.GetServices<IBackupDestination>().Where(d => d.IsEnabled && d is IPointInTimeSource))
            {
                historyOk &= await DrillHistoryAsync(destination, toTime);
            }
        }

        return results.All(r => r.Ok) && historyOk ? 0 : 1;
    }

    // The history is checked as a restore to that time would check it (nothing is written anywhere).
    private static async Task<bool> DrillHistoryAsync(IBackupDestination destination, PointInTimeTarget toTime)
    {
        var work = Path.Combine(Path.GetTempPath(), $"teleguard-drill-{Guid.NewGuid():N}");
        try
        {
            var copy = await RestoreDrill.CheckHistoryAsync((IPointInTimeSource)destination, toTime.Time, work, CancellationToken.None);
            Console.WriteLine($"{destination.Name}: history to {TeleGuard.Backup.SnapshotFormat.ClusterTimestamps.Describe(copy.PointInTime.Target)} verified (snapshot {copy.Snapshot.SnapshotId} and {copy.PointInTime.Increments.Count} increments)");
            return true;
        }
        catch (InvalidDataException e)
        {
            Console.WriteLine($"{destination.Name}: history to {toTime} FAILED ({e.Message})");
            return false;
        }
        finally
        {
            if (Directory.Exists(work))
            {
                Directory.Delete(work, recursive: true);
            }
        }
    }
}

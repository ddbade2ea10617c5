using TeleGuard.Backup.Destinations.GitHub;
using TeleGuard.Backup.Destinations.Public;
using TeleGuard.Backup.Destinations.Telegram;
using TeleGuard.Backup.Export;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Benchmarks;

/// <summary>
/// <c>snapshot-dir [--mb 20] [--hours 48] [--cleanup-hours 8] [--churn 0.01]</c>: the local disk over simulated hourly
/// snapshots (the services in this process on an in-memory bus, a database of about that size, a repository on the git
/// server; see <see cref="HourlySnapshotSimulation"/>). Prints SNAPSHOT_DIR's size after each hour and its peak during
/// it, in MiB and in snapshots (one snapshot: its JSON, about its tar before compression), so the bound is visible: it must not grow with the number of hours.
/// </summary>
public static class SnapshotDirBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var megabytes = BenchmarkOptions.Number(args, "--mb", 20);
        var hours = (int)BenchmarkOptions.Number(args, "--hours", 48);
        var cleanupHours = (int)BenchmarkOptions.Number(args, "--cleanup-hours", 8);
        var churn = BenchmarkOptions.Number(args, "--churn", 0.01);
        const int documentBytes = 1000;
        using var work = new TemporaryDirectory();
        var figures = await HourlySnapshotSimulation.RunAsync(
            new SimulationSettings(work.Path, hours, cleanupHours, churn, (int)(megabytes * 1024 * 1024 / documentBytes), documentBytes),
            builder =>
            {
                builder.AddBackupDefaults();
                builder.AddSnapshotService();
                builder.AddGitHubSinkService();
                builder.AddPublicSinkService();
                builder.AddTelegramSinkService(); // disabled (no variables): records skipped
                builder.AddBackupBus();
            },
            record => record.Sinks[BackupSinks.Public].LocationAs<PublicLocation>()!.Size!.Value,
            hour => Console.WriteLine(
                $"hour {hour.Hour:D2}{(hour.Cleanup ? " + cleanup" : "          ")}: SNAPSHOT_DIR {Mib(hour.SnapshotDirBytes),7:F2} MiB = {hour.SnapshotDirBytes / (double)hour.SnapshotBytes,5:F2} snapshots "
                + $"(peak {Mib(hour.PeakBytes),7:F2} MiB = {hour.PeakBytes / (double)hour.SnapshotBytes,5:F2}); snapshot {Mib(hour.SnapshotBytes):F2} MiB of JSON, public copy {Mib(hour.PublicBytes):F2} MiB"));

        var snapshot = figures.Max(f => f.SnapshotBytes);
        var largest = figures.Max(f => f.SnapshotDirBytes) / (double)snapshot;
        var peak = figures.Max(f => f.PeakBytes) / (double)snapshot;
        var lastDay = figures.Where(f => f.Hour > hours - 24).Max(f => f.SnapshotDirBytes) / (double)snapshot;
        Console.WriteLine($"one snapshot: {Mib(snapshot):F2} MiB of JSON; churn {churn:P1} per hour, cleanup every {cleanupHours} h, {hours} hours");
        Console.WriteLine($"SNAPSHOT_DIR after an hour: at most {largest:F2} snapshots (last 24 hours: {lastDay:F2}); peak while working: {peak:F2} snapshots");
        BenchmarkResult.Report("snapshotdir.snapshot_mib", Mib(snapshot));
        BenchmarkResult.Report("snapshotdir.max_snapshots", largest);
        BenchmarkResult.Report("snapshotdir.last_day_max_snapshots", lastDay);
        BenchmarkResult.Report("snapshotdir.peak_snapshots", peak);
        return 0;
    }

    private static double Mib(long bytes) => bytes / 1048576.0;
}

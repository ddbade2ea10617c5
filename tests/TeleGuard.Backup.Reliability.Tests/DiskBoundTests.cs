using TeleGuard.Backup.Cli;
using TeleGuard.Backup.Destinations.Public;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Reliability.Tests;

/// <summary>The local working directory stays bounded however long the services run (the benchmark's <c>snapshot-dir</c> mode prints the same figures for other sizes).</summary>
public sealed class DiskBoundTests
{
    /// <summary>
    /// What SNAPSHOT_DIR may hold, in snapshots (the snapshot's JSON, about its tar before compression): the private
    /// branch's clone (at most twice the snapshot it holds) and the public branch's clone (at most twice its encrypted
    /// copies: those of the retention window plus the hours since the last cleanup, each about a fifth of a snapshot
    /// here), with room for the fixed slack of each.
    /// </summary>
    private const double BoundInSnapshots = 8;

    [Fact]
    public async Task SNAPSHOT_DIR_stays_within_a_fixed_multiple_of_one_snapshot_over_48_hourly_snapshots_with_8_hour_compaction()
    {
        using var work = new TemporaryDirectory();
        var output = TestContext.Current.TestOutputHelper;
        var figures = await HourlySnapshotSimulation.RunAsync(
            new SimulationSettings(work.Path, Hours: 48, CleanupEveryHours: 8, Churn: 0.02, Documents: 5000, DocumentBytes: 1000),
            builder =>
            {
                builder.AddBackupDefaults();
                builder.AddAllBackupServices(includeScheduler: false);
                builder.AddBackupBus();
            },
            record => record.Sinks[BackupSinks.Public].LocationAs<PublicLocation>()!.Size!.Value,
            hour => output?.WriteLine($"hour {hour.Hour:D2}{(hour.Cleanup ? " + cleanup" : "          ")}: SNAPSHOT_DIR {hour.SnapshotDirBytes / 1048576.0,6:F2} MiB "
                                      + $"(peak {hour.PeakBytes / 1048576.0,6:F2}), snapshot {hour.SnapshotBytes / 1048576.0:F2} MiB of JSON, public copy {hour.PublicBytes / 1048576.0:F2} MiB"));

        var snapshot = figures.Max(f => f.SnapshotBytes);
        var worst = figures.MaxBy(f => f.SnapshotDirBytes)!;
        output?.WriteLine($"largest SNAPSHOT_DIR after an hour: {worst.SnapshotDirBytes / (double)snapshot:F2} snapshots (hour {worst.Hour}); "
                          + $"largest peak: {figures.Max(f => f.PeakBytes) / (double)snapshot:F2} snapshots");
        Assert.True(worst.SnapshotDirBytes <= BoundInSnapshots * snapshot,
            $"SNAPSHOT_DIR held {worst.SnapshotDirBytes} bytes after hour {worst.Hour}, over {BoundInSnapshots} snapshots of {snapshot} bytes");
        var peak = figures.MaxBy(f => f.PeakBytes)!;
        Assert.True(peak.PeakBytes <= (BoundInSnapshots + 2) * snapshot, // plus one message's work files (artifact, layout, encrypted copy)
            $"SNAPSHOT_DIR peaked at {peak.PeakBytes} bytes during hour {peak.Hour}, over {BoundInSnapshots + 2} snapshots of {snapshot} bytes");
        // No trend: the last two days' worth of cleanups hold no more than the first ones did.
        var early = figures.Where(f => f.Hour is > 8 and <= 24).Max(f => f.SnapshotDirBytes);
        var late = figures.Where(f => f.Hour > 32).Max(f => f.SnapshotDirBytes);
        Assert.True(late <= early + snapshot, $"SNAPSHOT_DIR grows: up to {early} bytes in hours 9-24, {late} in hours 33-48");
    }
}

using MongoDB.Bson;
using TeleGuard.Backup.Cli;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Cli.Tests;

/// <summary>What <c>status</c> says a destination can restore to: windows that a failed increment breaks and a later kept snapshot resumes.</summary>
public sealed class PointInTimeWindowTests
{
    private const uint Start = 1_796_000_000;

    private static IncrementRecord Increment(int sequence, string status) => new()
    {
        Id = $"20261130T050000Z-{sequence:D6}", Chain = "20261130T050000Z", Sequence = sequence,
        From = new BsonTimestamp((int)(Start + 60 * (sequence - 1)), 1), To = new BsonTimestamp((int)(Start + 60 * sequence), 1),
        Sinks = new() { [BackupSinks.GitHub] = new SinkRecord { Status = status } },
    };

    private static BackupRecord Snapshot(uint at) => new() { Id = $"s{at}", Manifest = new ManifestSummary { ClusterTime = new BsonTimestamp((int)at, 5) } };

    private static DateTimeOffset Time(uint seconds) => DateTimeOffset.FromUnixTimeSeconds(seconds);

    [Fact]
    public void A_failed_increment_ends_a_window_and_the_next_kept_snapshot_after_it_starts_another()
    {
        // Six increments of a minute; the third failed at this destination. Snapshots kept at the chain's start, inside
        // the first increment (already covered: no second window) and inside the fourth.
        IncrementRecord[] increments =
        [
            Increment(1, SinkStatus.Succeeded), Increment(2, SinkStatus.Succeeded), Increment(3, SinkStatus.Failed),
            Increment(4, SinkStatus.Succeeded), Increment(5, SinkStatus.Succeeded), Increment(6, SinkStatus.Succeeded),
        ];
        var windows = PointInTimeStatus.CopiedWindows(BackupSinks.GitHub, increments, [Snapshot(Start + 200), Snapshot(Start + 30), Snapshot(Start)]);

        Assert.Equal([(Time(Start), Time(Start + 120)), (Time(Start + 200), Time(Start + 360))], windows);
    }

    [Fact]
    public void No_window_starts_from_a_snapshot_whose_next_increment_is_not_copied()
    {
        IncrementRecord[] increments = [Increment(1, SinkStatus.Succeeded), Increment(2, SinkStatus.Waiting), Increment(3, SinkStatus.Succeeded)];
        var windows = PointInTimeStatus.CopiedWindows(BackupSinks.GitHub, increments, [Snapshot(Start + 70)]);

        Assert.Empty(windows);
    }
}

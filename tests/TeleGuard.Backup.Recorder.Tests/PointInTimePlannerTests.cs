using TeleGuard.Backup.Destinations;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Recorder.Tests;

/// <summary>What "latest" means for a restore to a time.</summary>
public sealed class PointInTimePlannerTests
{
    private static readonly SnapshotStart Snapshot = new("20261130T050000Z", new ClusterTimestamp(100, 1));

    [Fact]
    public void Latest_leaves_out_the_last_cluster_time_when_the_newest_increment_closed_right_at_an_event()
    {
        // Events sharing cluster time (200, 5) may go on at the start of the next increment, not copied yet.
        var links = new[]
        {
            Link(1, from: new(100, 1), to: new(150, 0), last: new(149, 3)),
            Link(2, from: new(150, 0), to: new(200, 5), last: new(200, 5)),
        };

        var (_, increments, target) = PointInTimePlanner.Choose([Snapshot], links, target: null, "app");

        Assert.Equal(new ClusterTimestamp(200, 4), target);
        Assert.Equal(2, increments.Count);
    }

    [Fact]
    public void Latest_is_the_end_of_the_history_when_the_stream_had_moved_past_the_last_event()
    {
        var links = new[]
        {
            Link(1, from: new(100, 1), to: new(150, 0), last: new(149, 3)),
            Link(2, from: new(150, 0), to: new(210, 0), last: new(200, 5)),
        };

        var (_, _, target) = PointInTimePlanner.Choose([Snapshot], links, target: null, "app");

        Assert.Equal(new ClusterTimestamp(210, 0), target);
    }

    private static IncrementLink Link(int sequence, ClusterTimestamp from, ClusterTimestamp to, ClusterTimestamp last) =>
        new(IncrementManifest.IdOf(Snapshot.SnapshotId, sequence), Snapshot.SnapshotId, sequence, from, to,
            new string((char)('a' + sequence), 64), sequence == 1 ? null : new string((char)('a' + sequence - 1), 64), last);
}

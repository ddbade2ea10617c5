using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Cli;

/// <summary>What <c>--to-time</c> asks for: a cluster time (the end of the second given), or null for the end of the history.</summary>
public sealed record PointInTimeTarget(ClusterTimestamp? Time)
{
    public override string ToString() => Time is null ? SnapshotSource.LatestTime : ClusterTimestamps.Describe(Time);
}

using MongoDB.Bson;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations;

/// <summary>
/// Chooses, from backups_meta's records, what a restore to a time fetches: the newest snapshot at or before the time
/// whose increments reach it without a break. The records only choose; what is fetched is checked again on its own.
/// </summary>
public static class PointInTimePlanner
{
    /// <param name="snapshots">Snapshots this destination holds (a cluster time recorded, the copy usable).</param>
    /// <param name="increments">Increments of the database this destination holds.</param>
    /// <param name="target">The time, or null for the end of the history.</param>
    public static (BackupRecord Snapshot, IReadOnlyList<IncrementRecord> Increments, ClusterTimestamp Target) Choose(
        IReadOnlyList<BackupRecord> snapshots, IReadOnlyList<IncrementRecord> increments, ClusterTimestamp? target, string databaseName)
    {
        if (increments.Count == 0)
        {
            throw new InvalidOperationException($"No increments of database {databaseName} are recorded: there is no history to restore to a time (only whole snapshots; use --snapshot).");
        }

        var end = increments.Select(i => ToClusterTimestamp(i.To)).Aggregate((a, b) => IncrementManifest.Compare(a, b) >= 0 ? a : b);
        var time = target ?? end;
        if (IncrementManifest.Compare(time, end) > 0)
        {
            throw new InvalidDataException($"The history reaches only to {ClusterTimestamps.Describe(end)}; {ClusterTimestamps.Describe(time)} is after it.");
        }

        var candidates = snapshots.Where(s => s.Manifest?.ClusterTime is { } clusterTime && IncrementManifest.Compare(ToClusterTimestamp(clusterTime), time) <= 0)
            .OrderByDescending(s => s.Manifest!.ClusterTime!.Value).ThenByDescending(s => s.Id, StringComparer.Ordinal).ToList();
        if (candidates.Count == 0)
        {
            var oldest = snapshots.Where(s => s.Manifest?.ClusterTime is not null).MinBy(s => s.Manifest!.ClusterTime!.Value);
            throw new InvalidDataException(oldest is null
                ? "No snapshot with a cluster time (taken on a replica set) is held here: a restore to a time starts from one."
                : $"The time {ClusterTimestamps.Describe(time)} is before the oldest snapshot held here ({oldest.Id}, of {ClusterTimestamps.Describe(ToClusterTimestamp(oldest.Manifest!.ClusterTime!))}).");
        }

        var chains = increments.GroupBy(i => i.Chain, StringComparer.Ordinal).Select(g => g.OrderBy(i => i.Sequence).ToList()).ToList();
        var reasons = new List<string>();
        foreach (var snapshot in candidates)
        {
            var start = ToClusterTimestamp(snapshot.Manifest!.ClusterTime!);
            foreach (var chain in chains)
            {
                try
                {
                    var run = IncrementChain.FindRun(chain.Select(ToLink).ToList(), start, snapshot.Id, time);
                    return (snapshot, run.Select(i => chain[i]).ToList(), time);
                }
                catch (InvalidDataException e)
                {
                    reasons.Add($"from snapshot {snapshot.Id} along chain {chain[0].Chain}: {e.Message}");
                }
            }
        }

        throw new InvalidDataException(
            $"No snapshot held here is followed by an unbroken history up to {ClusterTimestamps.Describe(time)}. {string.Join(" ", reasons.Take(3))}");
    }

    public static ClusterTimestamp ToClusterTimestamp(BsonTimestamp time) => ChangeEventLine.ToClusterTimestamp(time);

    private static IncrementLink ToLink(IncrementRecord record) =>
        new(record.Id, record.Chain, record.Sequence, ToClusterTimestamp(record.From), ToClusterTimestamp(record.To), record.Sha256, record.PreviousSha256);
}

using MongoDB.Bson;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations;

/// <summary>
/// Chooses what a restore to a time fetches: the newest snapshot at or before the time whose increments reach it
/// without a break. What it chooses from is what a destination lists (backups_meta's records, or the files of a
/// branch); it only chooses: what is fetched is checked again on its own.
/// </summary>
public static class PointInTimePlanner
{
    /// <param name="snapshots">Snapshots this destination holds (a cluster time recorded, the copy usable).</param>
    /// <param name="increments">Increments of the database this destination holds.</param>
    /// <param name="target">The time, or null for the end of the history.</param>
    public static (BackupRecord Snapshot, IReadOnlyList<IncrementRecord> Increments, ClusterTimestamp Target) Choose(
        IReadOnlyList<BackupRecord> snapshots, IReadOnlyList<IncrementRecord> increments, ClusterTimestamp? target, string databaseName)
    {
        var starts = snapshots.Where(s => s.Manifest?.ClusterTime is not null)
            .Select(s => new SnapshotStart(s.Id, ToClusterTimestamp(s.Manifest!.ClusterTime!))).ToList();
        var (snapshot, chosen, time) = Choose(starts, increments.Select(ToLink).ToList(), target, databaseName);
        var byId = increments.ToDictionary(i => i.Id, StringComparer.Ordinal);
        return (snapshots.First(s => s.Id == snapshot.SnapshotId), chosen.Select(l => byId[l.IncrementId]).ToList(), time);
    }

    /// <param name="snapshots">Snapshots this destination holds that a history can start from.</param>
    /// <param name="increments">Increments of the database this destination holds, of any chain, in any order.</param>
    /// <param name="target">The time, or null for the end of the history.</param>
    public static (SnapshotStart Snapshot, IReadOnlyList<IncrementLink> Increments, ClusterTimestamp Target) Choose(
        IReadOnlyList<SnapshotStart> snapshots, IReadOnlyList<IncrementLink> increments, ClusterTimestamp? target, string databaseName)
    {
        if (increments.Count == 0)
        {
            throw new InvalidOperationException($"No increments of database {databaseName} are recorded: there is no history to restore to a time (only whole snapshots; use --snapshot).");
        }

        var newest = increments.Aggregate((a, b) => IncrementManifest.Compare(a.To, b.To) >= 0 ? a : b);
        var end = newest.To;
        // "latest": the end of the history, except when the newest increment closed right at an event: events that share
        // a cluster time (a transaction, a batched delete) may go on at the start of the next increment, not yet here,
        // so that time is left out whole rather than restored in part.
        var time = target ?? (newest.LastEventTime is { } last && IncrementManifest.Compare(last, end) == 0 ? JustBefore(end) : end);
        if (IncrementManifest.Compare(time, end) > 0)
        {
            throw new InvalidDataException($"The history reaches only to {ClusterTimestamps.Describe(end)}; {ClusterTimestamps.Describe(time)} is after it.");
        }

        var candidates = snapshots.Where(s => IncrementManifest.Compare(s.ClusterTime, time) <= 0)
            .OrderByDescending(s => s.ClusterTime.T).ThenByDescending(s => s.ClusterTime.I).ThenByDescending(s => s.SnapshotId, StringComparer.Ordinal).ToList();
        if (candidates.Count == 0)
        {
            var oldest = snapshots.OrderBy(s => s.ClusterTime.T).ThenBy(s => s.ClusterTime.I).FirstOrDefault();
            throw new InvalidDataException(oldest is null
                ? "No snapshot with a cluster time (taken on a replica set) is held here: a restore to a time starts from one."
                : $"The time {ClusterTimestamps.Describe(time)} is before the oldest snapshot held here ({oldest.SnapshotId}, of {ClusterTimestamps.Describe(oldest.ClusterTime)}).");
        }

        var chains = increments.GroupBy(i => i.Chain, StringComparer.Ordinal).Select(g => g.OrderBy(i => i.Sequence).ToList()).ToList();
        var reasons = new List<string>();
        foreach (var snapshot in candidates)
        {
            foreach (var chain in chains)
            {
                try
                {
                    var run = IncrementChain.FindRun(chain, snapshot.ClusterTime, snapshot.SnapshotId, time);
                    return (snapshot, run.Select(i => chain[i]).ToList(), time);
                }
                catch (InvalidDataException e)
                {
                    reasons.Add($"from snapshot {snapshot.SnapshotId} along chain {chain[0].Chain}: {e.Message}");
                }
            }
        }

        throw new InvalidDataException(
            $"No snapshot held here is followed by an unbroken history up to {ClusterTimestamps.Describe(time)}. {string.Join(" ", reasons.Take(3))}");
    }

    public static ClusterTimestamp ToClusterTimestamp(BsonTimestamp time) => ChangeEventLine.ToClusterTimestamp(time);

    private static IncrementLink ToLink(IncrementRecord record) =>
        new(record.Id, record.Chain, record.Sequence, ToClusterTimestamp(record.From), ToClusterTimestamp(record.To), record.Sha256, record.PreviousSha256,
            record.LastEventTime is { } last ? ToClusterTimestamp(last) : null);

    private static ClusterTimestamp JustBefore(ClusterTimestamp time) =>
        time.I > 0 ? new ClusterTimestamp(time.T, time.I - 1) : new ClusterTimestamp(time.T - 1, uint.MaxValue);
}

using System.Globalization;
using MongoDB.Bson;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Cli;

/// <summary>
/// The part of <c>status</c> about point-in-time restore: for each destination the window in which a restore to any
/// second is possible, and every gap in the change history.
/// </summary>
public static class PointInTimeStatus
{
    public static async Task PrintAsync(BackupsMetaStore meta, IncrementsStore increments, string database, CancellationToken cancellationToken)
    {
        var all = await increments.ListAsync(database, cancellationToken);
        var gaps = await increments.ListGapsAsync(database, cancellationToken);
        if (all.Count == 0 && gaps.Count == 0)
        {
            Console.WriteLine("Point-in-time restore: no increments recorded (is the change recorder running on a replica set?).");
            return;
        }

        Console.WriteLine("Point-in-time restore:");
        var windows = new List<string>();
        foreach (var chain in all.GroupBy(i => i.Chain).OrderBy(c => c.Key, StringComparer.Ordinal))
        {
            var last = chain.MaxBy(i => i.Sequence)!;
            var first = chain.MinBy(i => i.Sequence)!;
            // A restore starts from a snapshot still held, inside the chain's range.
            var bases = await meta.ListStoredWithClusterTimeAsync(first.From, last.To, cancellationToken);
            if (bases.Count > 0)
            {
                windows.Add($"from {Format(bases[0].Manifest!.ClusterTime!)} to {Format(last.To)}");
            }
        }

        Console.WriteLine(windows.Count == 0
            ? "  store: no window (no snapshot the increments start from is still held)"
            : $"  store: {string.Join("; ", windows)}");
        Console.WriteLine("  github, public, telegram: snapshots only (increments are not copied there yet)");
        foreach (var gap in gaps)
        {
            var until = gap.NextChain is { } next ? $"until snapshot {next}" : gap.RequestedSnapshotId is { } requested ? $"until snapshot {requested} (requested, not yet taken)" : "(no new chain yet)";
            Console.WriteLine($"  gap after {(gap.CoveredTo is { } t ? Format(t) : "?")} {until}: {gap.Reason}");
        }
    }

    private static string Format(BsonTimestamp time) =>
        DateTimeOffset.FromUnixTimeSeconds(time.Timestamp).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}

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
        Console.WriteLine($"  github: {GitHubWindows(all, await meta.ListKeptSinkCopiesAsync(BackupSinks.GitHub, cancellationToken))}");
        Console.WriteLine("  public, telegram: snapshots only (increments are not copied there yet)");
        foreach (var gap in gaps)
        {
            var until = gap.NextChain is { } next ? $"until snapshot {next}" : gap.RequestedSnapshotId is { } requested ? $"until snapshot {requested} (requested, not yet taken)" : "(no new chain yet)";
            Console.WriteLine($"  gap after {(gap.CoveredTo is { } t ? Format(t) : "?")} {until}: {gap.Reason}");
        }
    }

    /// <summary>
    /// Per chain, from the oldest snapshot kept on the branch inside the chain's range to the end of the unbroken run of
    /// increments copied there after it.
    /// </summary>
    private static string GitHubWindows(IReadOnlyList<IncrementRecord> all, IReadOnlyList<BackupRecord> keptSnapshots)
    {
        var windows = new List<string>();
        foreach (var chain in all.GroupBy(i => i.Chain).OrderBy(c => c.Key, StringComparer.Ordinal))
        {
            var ordered = chain.OrderBy(i => i.Sequence).ToList();
            var start = keptSnapshots.Where(s => s.Manifest?.ClusterTime is { } t && t >= ordered[0].From && t <= ordered[^1].To)
                .Select(s => s.Manifest!.ClusterTime!).Order().FirstOrDefault();
            var first = start is null ? -1 : ordered.FindIndex(i => i.To > start);
            if (first < 0 || !CopiedToGitHub(ordered[first]))
            {
                continue;
            }

            var last = first;
            while (last + 1 < ordered.Count && ordered[last + 1].Sequence == ordered[last].Sequence + 1 && CopiedToGitHub(ordered[last + 1]))
            {
                last++;
            }

            windows.Add($"from {Format(start!)} to {Format(ordered[last].To)}");
        }

        return windows.Count == 0 ? "no window (no snapshot on the branch is followed by increments copied there)" : string.Join("; ", windows);
    }

    private static bool CopiedToGitHub(IncrementRecord increment) =>
        increment.Sinks.GetValueOrDefault(BackupSinks.GitHub)?.Status == SinkStatus.Succeeded;

    private static string Format(BsonTimestamp time) =>
        DateTimeOffset.FromUnixTimeSeconds(time.Timestamp).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}

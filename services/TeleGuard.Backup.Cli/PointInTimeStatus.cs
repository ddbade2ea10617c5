using System.Globalization;
using System.Text.Json.Nodes;
using MongoDB.Bson;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Cli;

/// <summary>
/// The part of <c>status</c> about point-in-time restore: for each destination the window in which a restore to any
/// second is possible, and every gap in the change history.
/// </summary>
public sealed record PointInTimeStatus(bool Recorded, IReadOnlyDictionary<string, IReadOnlyList<(DateTimeOffset From, DateTimeOffset To)>> Windows,
    IReadOnlyList<HistoryGapRecord> Gaps)
{
    public static async Task<PointInTimeStatus> ReadAsync(BackupsMetaStore meta, IncrementsStore increments, string database, CancellationToken cancellationToken)
    {
        var all = await increments.ListAsync(database, cancellationToken);
        var gaps = await increments.ListGapsAsync(database, cancellationToken);
        var windows = new List<(DateTimeOffset, DateTimeOffset)>();
        foreach (var chain in all.GroupBy(i => i.Chain).OrderBy(c => c.Key, StringComparer.Ordinal))
        {
            var last = chain.MaxBy(i => i.Sequence)!;
            var first = chain.MinBy(i => i.Sequence)!;
            // A restore starts from a snapshot still held, inside the chain's range.
            var bases = await meta.ListStoredWithClusterTimeAsync(first.From, last.To, cancellationToken);
            if (bases.Count > 0)
            {
                windows.Add((Time(bases[0].Manifest!.ClusterTime!), Time(last.To)));
            }
        }

        return new PointInTimeStatus(all.Count > 0 || gaps.Count > 0,
            new Dictionary<string, IReadOnlyList<(DateTimeOffset, DateTimeOffset)>>
            {
                [TeleGuard.Backup.Hosting.CleanupReporter.ArtifactStoreDestination] = windows,
                [BackupSinks.GitHub] = CopiedWindows(BackupSinks.GitHub, all, await meta.ListKeptSinkCopiesAsync(BackupSinks.GitHub, cancellationToken)),
                [BackupSinks.Public] = CopiedWindows(BackupSinks.Public, all, await meta.ListKeptSinkCopiesAsync(BackupSinks.Public, cancellationToken)),
                [BackupSinks.Telegram] = CopiedWindows(BackupSinks.Telegram, all, await meta.ListKeptSinkCopiesAsync(BackupSinks.Telegram, cancellationToken)),
            }, gaps);
    }

    /// <summary>
    /// Per chain, one window per unbroken run of increments copied to the destination after a snapshot it keeps: from
    /// that snapshot to the end of the run. An increment that failed there breaks the run; a later snapshot the
    /// destination keeps starts the next window (a restore to a time after the break starts from it).
    /// </summary>
    public static List<(DateTimeOffset From, DateTimeOffset To)> CopiedWindows(string sink, IReadOnlyList<IncrementRecord> all, IReadOnlyList<BackupRecord> keptSnapshots)
    {
        var windows = new List<(DateTimeOffset, DateTimeOffset)>();
        foreach (var chain in all.GroupBy(i => i.Chain).OrderBy(c => c.Key, StringComparer.Ordinal))
        {
            var ordered = chain.OrderBy(i => i.Sequence).ToList();
            var starts = keptSnapshots.Where(s => s.Manifest?.ClusterTime is { } t && t >= ordered[0].From && t <= ordered[^1].To)
                .Select(s => s.Manifest!.ClusterTime!).Order();
            var coveredTo = -1; // the last increment of the previous window
            foreach (var start in starts)
            {
                var first = ordered.FindIndex(i => i.To > start);
                if (first < 0 || first <= coveredTo || !CopiedTo(sink, ordered[first]) || (first > 0 && ordered[first].From > start))
                {
                    continue;
                }

                var last = first;
                while (last + 1 < ordered.Count && ordered[last + 1].Sequence == ordered[last].Sequence + 1 && CopiedTo(sink, ordered[last + 1]))
                {
                    last++;
                }

                windows.Add((Time(start), Time(ordered[last].To)));
                coveredTo = last;
            }
        }

        return windows;
    }

    private static bool CopiedTo(string sink, IncrementRecord increment) =>
        increment.Sinks.GetValueOrDefault(sink)?.Status == SinkStatus.Succeeded;

    public void Print()
    {
        if (!Recorded)
        {
            Console.WriteLine("Point-in-time restore: no increments recorded (is the change recorder running on a replica set?).");
            return;
        }

        Console.WriteLine("Point-in-time restore:");
        foreach (var (destination, windows) in Windows)
        {
            Console.WriteLine(windows.Count == 0
                ? $"  {destination}: no window (no snapshot the increments start from is still held)"
                : $"  {destination}: {string.Join("; ", windows.Select(w => $"from {Format(w.From)} to {Format(w.To)}"))}");
        }

        foreach (var gap in Gaps)
        {
            Console.WriteLine($"  gap after {(gap.CoveredTo is { } t ? Format(Time(t)) : "?")} {Until(gap)}: {gap.Reason}");
        }
    }

    public JsonObject ToJson() => new()
    {
        ["windows"] = new JsonObject(Windows.Select(w => KeyValuePair.Create(w.Key, (JsonNode?)new JsonArray(
            w.Value.Select(x => (JsonNode)new JsonObject { ["from"] = Format(x.From), ["to"] = Format(x.To) }).ToArray())))),
        ["gaps"] = new JsonArray(Gaps.Select(g => (JsonNode)new JsonObject
        {
            ["after"] = g.CoveredTo is { } t ? Format(Time(t)) : null,
            ["chain"] = g.Chain,
            ["detectedAt"] = Format(new DateTimeOffset(DateTime.SpecifyKind(g.DetectedAt, DateTimeKind.Utc))),
            ["requestedSnapshot"] = g.RequestedSnapshotId,
            ["nextChain"] = g.NextChain,
            ["reason"] = g.Reason,
        }).ToArray()),
    };

    private static string Until(HistoryGapRecord gap) =>
        gap.NextChain is { } next ? $"until snapshot {next}"
        : gap.RequestedSnapshotId is { } requested ? $"until snapshot {requested} (requested, not yet recording from it)"
        : "(no new chain yet)";

    private static DateTimeOffset Time(BsonTimestamp time) => DateTimeOffset.FromUnixTimeSeconds(time.Timestamp);

    private static string Format(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}

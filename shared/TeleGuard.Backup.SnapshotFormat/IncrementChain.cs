namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>
/// Checks the increments a restore to a time would replay after a snapshot (docs/increment-format.md, "Checking a
/// chain") and picks exactly those needed: the unbroken run from the one holding the events right after the snapshot's
/// cluster time to the one reaching the target time. Everything here was read back from a destination: untrusted.
/// </summary>
public static class IncrementChain
{
    /// <summary>
    /// The increments to replay after <paramref name="snapshot"/> up to <paramref name="pointInTime"/>'s target, in order,
    /// each events file verified against its manifest. Throws <see cref="InvalidDataException"/> for anything that does not
    /// hold (a broken or foreign chain, a time outside the history); nothing has been written then.
    /// </summary>
    public static async Task<IReadOnlyList<ExtractedIncrement>> CheckAsync(SnapshotManifest snapshot, PointInTime pointInTime, CancellationToken cancellationToken)
    {
        var chosen = Select(snapshot, pointInTime);
        foreach (var increment in chosen)
        {
            await IncrementArchive.VerifyEventsAsync(increment.EventsFile, increment.Manifest, cancellationToken);
        }

        return chosen;
    }

    /// <summary>The snapshot's cluster time: only a snapshot read at one cluster time can be the start of a replay.</summary>
    public static ClusterTimestamp SnapshotTime(SnapshotManifest snapshot) =>
        snapshot.Consistency is { Mode: SnapshotConsistency.Snapshot, ClusterTime: { } time }
            ? time
            : throw new InvalidDataException(
                $"Snapshot {snapshot.SnapshotId} was not read at one cluster time ({snapshot.Consistency.Reason ?? "a standalone server"}): no point-in-time restore can start from it.");

    /// <summary>The structural checks of <see cref="CheckAsync"/> (manifests only, no events read).</summary>
    public static IReadOnlyList<ExtractedIncrement> Select(SnapshotManifest snapshot, PointInTime pointInTime)
    {
        var start = SnapshotTime(snapshot);
        var target = pointInTime.Target;
        if (IncrementManifest.Compare(target, start) < 0)
        {
            throw new InvalidDataException(
                $"The time {ClusterTimestamps.Describe(target)} is before snapshot {snapshot.SnapshotId}, whose data is of {ClusterTimestamps.Describe(start)}: choose an older snapshot.");
        }

        var increments = pointInTime.Increments;
        var database = snapshot.Source.Database;
        foreach (var foreign in increments.Where(i => i.Manifest.Database != database).Take(1))
        {
            throw new InvalidDataException($"Increment {foreign.Manifest.IncrementId} records database {foreign.Manifest.Database}, not {database} (the snapshot's).");
        }

        var chains = increments.Select(i => i.Manifest.Chain).Distinct(StringComparer.Ordinal).ToList();
        if (chains.Count > 1)
        {
            throw new InvalidDataException($"The increments belong to more than one chain ({string.Join(", ", chains)}): a replay follows one.");
        }

        var ordered = increments.OrderBy(i => i.Manifest.Sequence).ToList();
        return FindRun(ordered.Select(i => IncrementLink.Of(i.Manifest)).ToList(), start, snapshot.SnapshotId, target).Select(i => ordered[i]).ToList();
    }

    /// <summary>
    /// The positions in <paramref name="ordered"/> (one chain, in sequence order) of the unbroken run that holds every
    /// event after <paramref name="start"/> (the snapshot's cluster time) up to <paramref name="target"/>; throws
    /// <see cref="InvalidDataException"/> saying why there is none.
    /// </summary>
    public static IReadOnlyList<int> FindRun(IReadOnlyList<IncrementLink> ordered, ClusterTimestamp start, string snapshotId, ClusterTimestamp target)
    {
        if (IncrementManifest.Compare(target, start) <= 0)
        {
            return [];
        }

        // The run begins with the increment that holds the events right after the snapshot and ends with the one reaching the target.
        var first = ordered.ToList().FindIndex(i => IncrementManifest.Compare(i.To, start) > 0);
        if (first < 0)
        {
            throw new InvalidDataException(
                $"The history reaches only to {(ordered.Count == 0 ? ClusterTimestamps.Describe(start) + " (the snapshot; no increment after it)" : ClusterTimestamps.Describe(ordered[^1].To))}; {ClusterTimestamps.Describe(target)} is after it.");
        }

        if (IncrementManifest.Compare(ordered[first].From, start) > 0)
        {
            throw new InvalidDataException(
                $"No increment holds the events right after snapshot {snapshotId} ({ClusterTimestamps.Describe(start)}): increment {ordered[first].IncrementId} starts after it, at {ClusterTimestamps.Describe(ordered[first].From)}.");
        }

        var chosen = new List<int> { first };
        while (IncrementManifest.Compare(ordered[chosen[^1]].To, target) < 0)
        {
            var previous = ordered[chosen[^1]];
            var index = chosen[^1] + 1;
            if (index >= ordered.Count)
            {
                throw new InvalidDataException(
                    $"The history reaches only to {ClusterTimestamps.Describe(previous.To)} (increment {previous.IncrementId}); {ClusterTimestamps.Describe(target)} is after it.");
            }

            var next = ordered[index];
            if (next.Sequence != previous.Sequence + 1)
            {
                throw new InvalidDataException(
                    $"The chain {previous.Chain} is broken: increment {IncrementManifest.IdOf(previous.Chain, previous.Sequence + 1)} is missing{(next.Sequence == previous.Sequence ? $" ({next.IncrementId} is given twice)" : "")}.");
            }

            if (IncrementManifest.Compare(next.From, previous.To) != 0)
            {
                throw new InvalidDataException(
                    $"The chain {previous.Chain} is broken: increment {next.IncrementId} starts at {ClusterTimestamps.Describe(next.From)}, the previous one ends at {ClusterTimestamps.Describe(previous.To)}.");
            }

            if (next.PreviousSha256 != previous.Sha256)
            {
                throw new InvalidDataException(
                    $"The chain {previous.Chain} is broken: increment {next.IncrementId} does not follow {previous.IncrementId} (its previousSha256 is not that increment's SHA-256).");
            }

            chosen.Add(index);
        }

        return chosen;
    }
}

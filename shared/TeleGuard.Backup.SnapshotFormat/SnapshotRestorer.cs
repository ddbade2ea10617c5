using System.Diagnostics;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using MongoDB.Bson;
using MongoDB.Driver;

namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>
/// Restores a verified snapshot folder into a database without ever leaving it half-restored: every collection is first
/// written into a work collection of the target database (<see cref="RestoreWorkCollections"/>) with its options and
/// indexes, and read back and compared with the snapshot byte for byte; only when every collection is complete are they
/// swapped in under their names, the replaced ones moved aside first and dropped after. Any failure before the swap
/// (a bad line, a server error, a cancellation) leaves the target's collections untouched and drops the work
/// collections; a failure during the swap puts back what was there; a killed restore is cleaned up (or rolled back) by
/// the next one.
/// </summary>
public sealed partial class SnapshotRestorer(ILogger logger)
{
    /// <summary>The system's own records: restored only when named, never over the live ones by default.</summary>
    public const string LiveMetadataCollection = "backups_meta";

    /// <summary>The collection options (listCollections' <c>options</c>) a restore passes to <c>create</c>.</summary>
    public static readonly IReadOnlySet<string> CollectionOptions = new HashSet<string>(StringComparer.Ordinal)
    {
        "capped", "size", "max", "storageEngine", "validator", "validationLevel", "validationAction", "indexOptionDefaults",
        "viewOn", "pipeline", "collation", "timeseries", "expireAfterSeconds", "clusteredIndex", "changeStreamPreAndPostImages",
    };

    public const string Created = "create";
    public const string Replaced = "replace";
    public const string Refused = "refuse";

    public async Task<IReadOnlyList<CollectionRestoreResult>> RestoreAsync(
        string snapshotDirectory, SnapshotManifest manifest, IMongoClient client, string databaseName, RestoreOptions options,
        Action<string>? progress, CancellationToken cancellationToken) =>
        (await RestoreAsync(snapshotDirectory, manifest, pointInTime: null, client, databaseName, options, progress, cancellationToken)).Snapshot;

    /// <summary>
    /// Restores the snapshot as of <paramref name="pointInTime"/>'s target: the increments are checked first (nothing is
    /// written when they do not hold), the snapshot is staged and read back as <see cref="RestoreAsync(string, SnapshotManifest, IMongoClient, string, RestoreOptions, Action{string}?, CancellationToken)"/>
    /// does, the events are replayed into the staged collections, and only then is everything swapped in. Any failure
    /// before the swap leaves the target as it was.
    /// </summary>
    public Task<PointInTimeRestoreResult> RestoreToTimeAsync(
        string snapshotDirectory, SnapshotManifest manifest, PointInTime pointInTime, IMongoClient client, string databaseName, RestoreOptions options,
        Action<string>? progress, CancellationToken cancellationToken) =>
        RestoreAsync(snapshotDirectory, manifest, pointInTime, client, databaseName, options, progress, cancellationToken);

    private async Task<PointInTimeRestoreResult> RestoreAsync(
        string snapshotDirectory, SnapshotManifest manifest, PointInTime? pointInTime, IMongoClient client, string databaseName, RestoreOptions options,
        Action<string>? progress, CancellationToken cancellationToken)
    {
        manifest.EnsureRestorable();
        var report = Serialized(progress);
        ClusterTimestamp? snapshotTime = null;
        if (pointInTime is not null)
        {
            // Every increment is checked before the target is touched.
            snapshotTime = IncrementChain.SnapshotTime(manifest);
            pointInTime = pointInTime with { Increments = await IncrementChain.CheckAsync(manifest, pointInTime, cancellationToken) };
            report?.Invoke($"{pointInTime.Increments.Count} increments after snapshot {manifest.SnapshotId} checked: an unbroken chain up to {ClusterTimestamps.Describe(pointInTime.Target)}");
        }

        var collections = Select(manifest, options, allowAbsent: pointInTime is not null, report);
        var database = client.GetDatabase(databaseName);
        if (options.DryRun)
        {
            await DescribeInterruptedRunsAsync(database, report, cancellationToken);
            var dryPlan = await PlanAsync(database, collections, cancellationToken);
            var described = dryPlan.Select(p => DescribeDryRun(p, options, report)).ToList();
            if (pointInTime is not null)
            {
                report?.Invoke($"would then replay the events of {pointInTime.Increments.Count} increments ({pointInTime.Increments.Sum(i => i.Manifest.Events)} recorded) up to {ClusterTimestamps.Describe(pointInTime.Target)}");
            }

            return new PointInTimeRestoreResult(described, null, [], []);
        }

        var run = RestoreWorkCollections.NewRunId();
        await using var lease = await RestoreLease.TakeAsync(database, run, cancellationToken);
        // What killed restores left is undone first, so that the plan sees the target as it really is.
        foreach (var line in await RecoverInterruptedRunsAsync(database, run, cancellationToken))
        {
            report?.Invoke(line);
            LogRecovery(logger, databaseName, line);
        }

        var plan = await PlanAsync(database, collections, cancellationToken);
        RefuseOccupied(plan.Select(p => p.Target), databaseName, options);

        var restored = new CollectionRestoreResult[plan.Count];
        IReadOnlyList<SwapItem> swap;
        ReplayResult? replay = null;
        try
        {
            await Parallel.ForEachAsync(plan, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.ParallelCollections), CancellationToken = cancellationToken },
                async (item, ct) => restored[item.Index - 1] = await StageAsync(snapshotDirectory, manifest, database, run, item, options, report, ct));
            swap = plan.Select(p => new SwapItem(p.Index, p.Collection.Name, p.Collection.Type, p.TypeBefore, p.ViewDefinitionBefore)).ToList();
            if (pointInTime is not null)
            {
                var staged = new StagedCollections(plan.Select(p => (p.Collection.Name, new StagedEntry(p.Index, p.Collection.Type))));
                replay = await new ChangeReplayer(database, run, staged, IsSelected(options), report).ReplayAsync(snapshotTime!, pointInTime, cancellationToken);
                report?.Invoke($"replayed {replay.Applied} events up to {ClusterTimestamps.Describe(pointInTime.Target)}"
                    + (replay.Skipped > 0 ? $" ({replay.Skipped} of collections or kinds not restored left out)" : ""));
                LogReplayed(logger, databaseName, replay.Applied, pointInTime.Increments.Count);
                swap = await PlanSwapAfterReplayAsync(database, staged, options, report, cancellationToken);
            }
        }
        catch
        {
            // Nothing of the target was touched: only this run's work collections exist, and go.
            await RestoreWorkCollections.DropRunAsync(database, run, CancellationToken.None);
            throw;
        }

        await RestoreSwap.SwapInAsync(database, run, swap, refuseNonEmpty: !options.Drop);
        var placed = swap.Where(i => i.SnapshotType != SwapItem.AbsentType).Select(i => i.Name).ToList();
        var removed = swap.Where(i => i.SnapshotType == SwapItem.AbsentType).Select(i => i.Name).ToList();
        report?.Invoke($"swapped in {placed.Count} collections" + (removed.Count > 0 ? $"; removed {string.Join(", ", removed)} (dropped by the time restored to)" : ""));
        return new PointInTimeRestoreResult(restored, replay, placed, removed);
    }

    private static void RefuseOccupied(IEnumerable<TargetCollection> targets, string databaseName, RestoreOptions options)
    {
        var occupied = targets.Where(p => p.Occupied).ToList();
        if (occupied.Count > 0 && !options.Drop)
        {
            throw new InvalidOperationException(
                $"Refusing to restore into non-empty collections of {databaseName}: {string.Join(", ", occupied.Select(p => p.Name))}. Use --drop to replace them.");
        }
    }

    // After a replay: every restorable name the restore covers, with what the target holds under it; a name that no
    // longer exists removes the target's collection of that name (moved aside by the swap, so it can be put back).
    private static async Task<List<SwapItem>> PlanSwapAfterReplayAsync(IMongoDatabase database, StagedCollections staged, RestoreOptions options,
        Action<string>? report, CancellationToken cancellationToken)
    {
        var leftOut = staged.Present.Keys.Where(n => !SnapshotManifest.IsRestorableCollectionName(n)).Order(StringComparer.Ordinal).ToList();
        if (leftOut.Count > 0)
        {
            report?.Invoke($"left out (not collections a restore writes): {string.Join(", ", leftOut)}");
        }

        var wanted = staged.Present.Where(p => SnapshotManifest.IsRestorableCollectionName(p.Key))
            .Select(p => (Name: p.Key, p.Value.Index, p.Value.Type))
            .Concat(staged.Absent.Where(SnapshotManifest.IsRestorableCollectionName).Select(n => (Name: n, Index: 0, Type: SwapItem.AbsentType)))
            .OrderBy(w => w.Name, StringComparer.Ordinal)
            .ToList();
        var existing = await ListCollectionsAsync(database, cancellationToken);
        var items = new List<(SwapItem Item, TargetCollection Target)>();
        foreach (var (name, index, type) in wanted)
        {
            var before = existing.GetValueOrDefault(name);
            if (type == SwapItem.AbsentType && before is null)
            {
                continue; // gone at that time, and not in the target either
            }

            var target = await TargetCollection.DescribeAsync(database, name, before, cancellationToken);
            items.Add((new SwapItem(type == SwapItem.AbsentType ? staged.NextIndex() : index, name, type, target.TypeBefore, target.ViewDefinitionBefore), target));
        }

        RefuseOccupied(items.Select(i => i.Target), database.DatabaseNamespace.DatabaseName, options);
        return items.Select(i => i.Item).ToList();
    }

    private static async Task<List<PlannedCollection>> PlanAsync(IMongoDatabase database, IReadOnlyList<CollectionEntry> collections, CancellationToken cancellationToken)
    {
        var existing = await ListCollectionsAsync(database, cancellationToken);
        var plan = new List<PlannedCollection>();
        foreach (var (collection, index) in collections.Select((c, i) => (c, i)))
        {
            plan.Add(new PlannedCollection(collection, index + 1,
                await TargetCollection.DescribeAsync(database, collection.Name, existing.GetValueOrDefault(collection.Name), cancellationToken)));
        }

        return plan;
    }

    // Runs other than this one are dead (this run holds the lease): roll back a swap that was cut off, drop the rest.
    private static async Task<List<string>> RecoverInterruptedRunsAsync(IMongoDatabase database, string currentRun, CancellationToken cancellationToken)
    {
        var names = await RestoreWorkCollections.ListNamesAsync(database, cancellationToken);
        var report = new List<string>();
        foreach (var run in names.Select(RestoreWorkCollections.RunOf).OfType<string>().Where(r => r != currentRun).Distinct().Order(StringComparer.Ordinal))
        {
            var leftovers = names.Count(n => RestoreWorkCollections.RunOf(n) == run);
            if (names.Contains(RestoreWorkCollections.SwapMarker(run)))
            {
                var putBack = await RestoreSwap.RollBackAsync(database, run, cancellationToken);
                report.Add($"an interrupted restore (run {run}) was in the middle of its swap: {putBack} collections were put back as they were, and its temporary collections removed");
            }
            else
            {
                await RestoreWorkCollections.DropRunAsync(database, run, cancellationToken);
                report.Add($"removed {leftovers} temporary collections left by an interrupted restore (run {run})");
            }
        }

        return report;
    }

    private static async Task DescribeInterruptedRunsAsync(IMongoDatabase database, Action<string>? report, CancellationToken cancellationToken)
    {
        var names = await RestoreWorkCollections.ListNamesAsync(database, cancellationToken);
        foreach (var run in names.Select(RestoreWorkCollections.RunOf).OfType<string>().Distinct().Order(StringComparer.Ordinal))
        {
            report?.Invoke(names.Contains(RestoreWorkCollections.SwapMarker(run))
                ? $"a restore (run {run}) was cut off in the middle of its swap: the next restore first puts back what it had moved aside"
                : $"a restore (run {run}) left {names.Count(n => RestoreWorkCollections.RunOf(n) == run)} temporary collections: the next restore removes them");
        }
    }

    // Without --collections, everything but the live backups_meta.
    private static Func<string, bool> IsSelected(RestoreOptions options)
    {
        if (options.Collections is not { Count: > 0 } names)
        {
            return name => name != LiveMetadataCollection;
        }

        var wanted = new HashSet<string>(names, StringComparer.Ordinal);
        return wanted.Contains;
    }

    // A restore to a time may name a collection the snapshot lacks: the events may create it (allowAbsent).
    private static List<CollectionEntry> Select(SnapshotManifest manifest, RestoreOptions options, bool allowAbsent, Action<string>? report)
    {
        if (options.Collections is not { Count: > 0 } names)
        {
            if (manifest.Collections.Any(c => c.Name == LiveMetadataCollection))
            {
                report?.Invoke($"{LiveMetadataCollection} is not restored over the live records; name it in --collections to restore it");
            }

            return manifest.Collections.Where(c => c.Name != LiveMetadataCollection).ToList();
        }

        var wanted = new HashSet<string>(names, StringComparer.Ordinal);
        var missing = wanted.Except(manifest.Collections.Select(c => c.Name)).ToList();
        if (missing.Count > 0 && !allowAbsent)
        {
            throw new InvalidOperationException($"Snapshot {manifest.SnapshotId} has no collection {string.Join(", ", missing)}.");
        }

        return manifest.Collections.Where(c => wanted.Contains(c.Name)).ToList();
    }

    private static CollectionRestoreResult DescribeDryRun(PlannedCollection item, RestoreOptions options, Action<string>? report)
    {
        var collection = item.Collection;
        var action = item.Before is null ? Created : item.Occupied && !options.Drop ? Refused : Replaced;
        var what = collection.Type == SnapshotExporter.ViewType ? "view" : $"{collection.Documents} documents";
        report?.Invoke(action switch
        {
            Created => $"would create {collection.Name}: {what}",
            Refused => $"would refuse {collection.Name}: the target holds {Describe(item)} (use --drop to replace it)",
            _ => $"would replace {collection.Name} ({Describe(item)}) with {what}",
        });
        return new CollectionRestoreResult(collection.Name, collection.Documents, 0, Verified: false, action);
    }

    private static string Describe(PlannedCollection item) =>
        item.TypeBefore == SnapshotExporter.ViewType ? "a view" : $"{item.DocumentsBefore} documents";

    private async Task<CollectionRestoreResult> StageAsync(string snapshotDirectory, SnapshotManifest manifest, IMongoDatabase database, string run,
        PlannedCollection item, RestoreOptions options, Action<string>? report, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        var collection = item.Collection;
        var staged = RestoreWorkCollections.Staged(run, item.Index);
        var metadata = await SnapshotContent.ReadMetadataAsync(snapshotDirectory, collection, cancellationToken);
        var create = new BsonDocument("create", staged);
        foreach (var option in metadata["options"].AsBsonDocument)
        {
            // Only what listCollections reports as a collection's options: a hostile metadata file cannot smuggle in
            // another command's fields (another collection's name, a write concern, $-fields).
            if (CollectionOptions.Contains(option.Name))
            {
                create[option.Name] = option.Value;
            }
            else
            {
                report?.Invoke($"{collection.Name}: option '{option.Name}' is not one this version restores; left out");
            }
        }

        try
        {
            await database.RunCommandAsync<BsonDocument>(create, cancellationToken: cancellationToken);
        }
        catch (MongoCommandException e)
        {
            throw new InvalidOperationException($"Collection {collection.Name}: the target refused to create it with the snapshot's options: {e.Message}", e);
        }

        var action = item.Before is null ? Created : Replaced;
        if (collection.Type == SnapshotExporter.ViewType)
        {
            return new CollectionRestoreResult(collection.Name, 0, 0, Verified: true, action);
        }

        var target = database.GetCollection<RawBsonDocument>(staged);
        var inserted = await InsertAsync(snapshotDirectory, manifest, collection, database, staged, options, cancellationToken);
        var indexes = metadata["indexes"].AsBsonArray
            .Select(i => i.AsBsonDocument)
            .Where(i => i.GetValue("name", "").AsString != "_id_")
            .Select(i => new BsonDocument(i.Where(e => e.Name is not ("v" or "ns"))))
            .ToList();
        if (indexes.Count > 0)
        {
            await database.RunCommandAsync<BsonDocument>(
                new BsonDocument { { "createIndexes", staged }, { "indexes", new BsonArray(indexes) } }, cancellationToken: cancellationToken);
        }

        var verified = false;
        if (options.VerifyAfterRestore)
        {
            await VerifyWrittenAsync(target, collection, cancellationToken);
            verified = true;
        }

        var readBack = !verified ? "" : collection.Type == SnapshotExporter.TimeSeriesType ? ", count read back" : ", read back identical";

        report?.Invoke($"wrote {collection.Name}: {inserted} documents, {indexes.Count} indexes in {stopwatch.Elapsed.TotalSeconds:F1} s{readBack}");
        LogCollectionStaged(logger, collection.Name, inserted, indexes.Count);
        return new CollectionRestoreResult(collection.Name, inserted, indexes.Count, verified, action);
    }

    // Decodes the parts straight into BSON, copied into insert commands of up to BatchSize documents, several in
    // flight while the next is decoded (unordered: a collection's order does not matter; a time-series collection
    // takes one batch at a time, in order).
    private static async Task<long> InsertAsync(string snapshotDirectory, SnapshotManifest manifest, CollectionEntry collection, IMongoDatabase database,
        string staged, RestoreOptions options, CancellationToken cancellationToken)
    {
        var timeSeries = collection.Type == SnapshotExporter.TimeSeriesType;
        var maxInFlight = timeSeries ? 1 : Math.Max(1, options.BatchesInFlight);
        var inFlight = new Queue<Task>();
        var writeConcern = database.Settings.WriteConcern;
        var batch = new InsertCommand(staged, collection.Name, ordered: timeSeries, writeConcern);
        long inserted = 0;

        async ValueTask SendAsync()
        {
            while (inFlight.Count >= maxInFlight)
            {
                await inFlight.Dequeue();
            }

            var sending = batch;
            inserted += sending.Count;
            inFlight.Enqueue(sending.SendAsync(database, cancellationToken));
            batch = new InsertCommand(staged, collection.Name, ordered: timeSeries, writeConcern, initialCapacity: sending.Length);
        }

        try
        {
            await SnapshotContent.DecodeAsync(snapshotDirectory, manifest, collection, async (bson, _) =>
            {
                if (batch.Count > 0 && (batch.Count >= options.BatchSize || !batch.Fits(bson.Length)))
                {
                    await SendAsync();
                }

                batch.Add(bson.Span);
            }, cancellationToken);
            if (batch.Count > 0)
            {
                await SendAsync();
            }
        }
        finally
        {
            // Inserts still in flight are awaited before the caller drops the work collection (one cancelled here may
            // still run on the server and recreate it: the next restore removes what a run left behind).
            try
            {
                await Task.WhenAll(inFlight);
            }
            catch (Exception)
            {
                // The failure that matters is the one being thrown; the successful path awaits them again below.
            }
        }

        await Task.WhenAll(inFlight);
        return inserted;
    }

    // Reads the written collection back in _id order (the export's order) and compares it with the snapshot: the BSON
    // bytes in format version 2, the canonical JSONL in version 1.
    private static async Task VerifyWrittenAsync(IMongoCollection<RawBsonDocument> written, CollectionEntry collection, CancellationToken cancellationToken)
    {
        using var bsonHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var jsonHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var writer = collection.BsonSha256 is null ? new CanonicalJsonWriter() : null;
        long documents = 0;
        byte[] scratch = [];
        using var cursor = await written.FindAsync(FilterDefinition<RawBsonDocument>.Empty,
            new FindOptions<RawBsonDocument> { Sort = new BsonDocument("_id", 1), BatchSize = 1000 }, cancellationToken);
        while (await cursor.MoveNextAsync(cancellationToken))
        {
            foreach (var document in cursor.Current)
            {
                using (document)
                {
                    var bson = RawDocumentBytes.Of(document, ref scratch);
                    bsonHash.AppendData(bson);
                    if (writer is not null)
                    {
                        writer.Reset();
                        writer.WriteLine(bson);
                        jsonHash.AppendData(writer.Written);
                    }

                    documents++;
                }
            }
        }

        // A time-series collection rebuilds its measurements from buckets, in an order of fields of its own: count only.
        var same = documents == collection.Documents && (collection.Type == SnapshotExporter.TimeSeriesType
            || (collection.BsonSha256 is { } bsonSha256
                ? Convert.ToHexStringLower(bsonHash.GetHashAndReset()) == bsonSha256
                : Convert.ToHexStringLower(jsonHash.GetHashAndReset()) == collection.Sha256));
        if (!same)
        {
            throw new InvalidDataException(
                $"Collection {collection.Name}: what the target stored differs from the snapshot ({documents} documents read back, {collection.Documents} in the snapshot); nothing was swapped in.");
        }
    }

    private static async Task<Dictionary<string, BsonDocument>> ListCollectionsAsync(IMongoDatabase database, CancellationToken cancellationToken)
    {
        using var cursor = await database.ListCollectionsAsync(cancellationToken: cancellationToken);
        return (await cursor.ToListAsync(cancellationToken)).ToDictionary(c => c["name"].AsString, StringComparer.Ordinal);
    }

    // Progress callbacks come from parallel collections; keep them one at a time.
    private static Action<string>? Serialized(Action<string>? progress)
    {
        if (progress is null)
        {
            return null;
        }

        var gate = new Lock();
        return line =>
        {
            lock (gate)
            {
                progress(line);
            }
        };
    }

    private sealed record PlannedCollection(CollectionEntry Collection, int Index, TargetCollection Target)
    {
        public BsonDocument? Before => Target.Before;

        public string? TypeBefore => Target.TypeBefore;

        public long DocumentsBefore => Target.DocumentsBefore;

        public bool Occupied => Target.Occupied;

        public BsonDocument? ViewDefinitionBefore => Target.ViewDefinitionBefore;
    }

    /// <summary>What the target holds under a name when the restore plans: its listCollections entry and document count.</summary>
    private sealed record TargetCollection(string Name, BsonDocument? Before, long DocumentsBefore)
    {
        public string? TypeBefore => Before?.GetValue("type", SnapshotExporter.CollectionType).AsString;

        public bool Occupied => TypeBefore == SnapshotExporter.ViewType || DocumentsBefore > 0;

        public BsonDocument? ViewDefinitionBefore
        {
            get
            {
                if (TypeBefore != SnapshotExporter.ViewType)
                {
                    return null;
                }

                var create = new BsonDocument("create", Name);
                create.AddRange(Before!.GetValue("options", new BsonDocument()).AsBsonDocument);
                return create;
            }
        }

        public static async Task<TargetCollection> DescribeAsync(IMongoDatabase database, string name, BsonDocument? before, CancellationToken cancellationToken) =>
            new(name, before, before is not null && before.GetValue("type", SnapshotExporter.CollectionType).AsString != SnapshotExporter.ViewType
                ? await database.GetCollection<BsonDocument>(name).CountDocumentsAsync(FilterDefinition<BsonDocument>.Empty, cancellationToken: cancellationToken)
                : 0);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Restore into {Database}: {Recovery}")]
    private static partial void LogRecovery(ILogger logger, string database, string recovery);

    [LoggerMessage(Level = LogLevel.Information, Message = "Restore into {Database}: replayed {Events} events of {Increments} increments")]
    private static partial void LogReplayed(ILogger logger, string database, long events, int increments);

    [LoggerMessage(Level = LogLevel.Information, Message = "Staged {Collection}: {Documents} documents, {Indexes} indexes")]
    private static partial void LogCollectionStaged(ILogger logger, string collection, long documents, int indexes);
}

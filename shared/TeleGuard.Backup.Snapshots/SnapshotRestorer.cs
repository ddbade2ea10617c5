using System.Diagnostics;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using MongoDB.Bson;
using MongoDB.Driver;

namespace TeleGuard.Backup.Snapshots;

public sealed record RestoreOptions
{
    /// <summary>Only these collections; null or empty: every collection of the snapshot except <see cref="SnapshotRestorer.LiveMetadataCollection"/>.</summary>
    public IReadOnlyList<string>? Collections { get; init; }

    /// <summary>Replace target collections that already hold documents; without it such a collection stops the restore before anything is written.</summary>
    public bool Drop { get; init; }

    /// <summary>Report what would be written, write nothing.</summary>
    public bool DryRun { get; init; }

    /// <summary>Documents per insert (also bounded by <see cref="SnapshotRestorer.MaxBatchBytes"/>).</summary>
    public int BatchSize { get; init; } = 1000;

    /// <summary>Collections written at the same time.</summary>
    public int ParallelCollections { get; init; } = 4;

    /// <summary>Read every written collection back and compare it with the snapshot before swapping it in (benchmarks may skip it).</summary>
    public bool VerifyAfterRestore { get; init; } = true;
}

/// <param name="Action">What the restore did (or, in a dry run, would do) with the target's collection of this name.</param>
public sealed record RestoredCollection(string Name, long Documents, int Indexes, bool Verified, string Action);

/// <summary>
/// Restores a verified snapshot folder into a database without ever leaving it half-restored: every collection is first
/// written into a work collection of the target database (<see cref="RestoreWorkCollections"/>) with its options and
/// indexes, and read back and compared with the snapshot byte for byte; only when every collection is complete are they
/// swapped in under their names, the replaced ones moved aside first and dropped after. Any failure before the swap
/// (a bad line, a server error, a cancellation) leaves the target's collections untouched and drops the work
/// collections; a failure during the swap puts back what was there; a killed restore is cleaned up (or rolled back) by
/// the next one.
/// </summary>
public sealed class SnapshotRestorer(ILogger logger)
{
    /// <summary>The system's own records: restored only when named, never over the live ones by default.</summary>
    public const string LiveMetadataCollection = "backups_meta";

    /// <summary>One insert carries at most this much (the server's message limit is 48 MB).</summary>
    public const int MaxBatchBytes = 16 * 1024 * 1024;

    public const string Created = "create";
    public const string Replaced = "replace";
    public const string Refused = "refuse";

    public async Task<IReadOnlyList<RestoredCollection>> RestoreAsync(
        string snapshotDirectory, SnapshotManifest manifest, IMongoClient client, string databaseName, RestoreOptions options,
        Action<string>? progress, CancellationToken cancellationToken)
    {
        var report = Serialized(progress);
        var collections = Select(manifest, options, report);
        var database = client.GetDatabase(databaseName);
        var existing = await ListCollectionsAsync(database, cancellationToken);
        var plan = new List<PlannedCollection>();
        foreach (var (collection, index) in collections.Select((c, i) => (c, i)))
        {
            var before = existing.GetValueOrDefault(collection.Name);
            long documentsBefore = 0;
            if (before is not null && before.GetValue("type", SnapshotExporter.CollectionType).AsString != SnapshotExporter.ViewType)
            {
                documentsBefore = await database.GetCollection<BsonDocument>(collection.Name)
                    .CountDocumentsAsync(FilterDefinition<BsonDocument>.Empty, cancellationToken: cancellationToken);
            }

            plan.Add(new PlannedCollection(collection, index + 1, before, documentsBefore));
        }

        var occupied = plan.Where(p => p.Occupied).ToList();
        if (options.DryRun)
        {
            var stale = existing.Keys.Count(RestoreWorkCollections.IsWorkCollection);
            if (stale > 0)
            {
                report?.Invoke($"would remove {stale} temporary collections left by an interrupted restore");
            }

            return plan.Select(p => DescribeDryRun(p, options, report)).ToList();
        }

        if (occupied.Count > 0 && !options.Drop)
        {
            throw new InvalidOperationException(
                $"Refusing to restore into non-empty collections of {databaseName}: {string.Join(", ", occupied.Select(p => p.Collection.Name))}. Use --drop to replace them.");
        }

        foreach (var line in await RestoreWorkCollections.RecoverStaleAsync(database, cancellationToken))
        {
            report?.Invoke(line);
            logger.LogWarning("Restore into {Database}: {Recovery}", databaseName, line);
        }

        var run = RestoreWorkCollections.NewRunId();
        var restored = new RestoredCollection[plan.Count];
        try
        {
            await Parallel.ForEachAsync(plan, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.ParallelCollections), CancellationToken = cancellationToken },
                async (item, ct) => restored[item.Index - 1] = await StageAsync(snapshotDirectory, manifest, database, run, item, options, report, ct));
        }
        catch
        {
            // Nothing of the target was touched: only this run's work collections exist, and go.
            await DropRunAsync(database, run, CancellationToken.None);
            throw;
        }

        await SwapAsync(database, run, plan, report);
        return restored;
    }

    // Without --collections, everything but the live backups_meta.
    private static List<CollectionEntry> Select(SnapshotManifest manifest, RestoreOptions options, Action<string>? report)
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
        if (missing.Count > 0)
        {
            throw new InvalidOperationException($"Snapshot {manifest.SnapshotId} has no collection {string.Join(", ", missing)}.");
        }

        return manifest.Collections.Where(c => wanted.Contains(c.Name)).ToList();
    }

    private static RestoredCollection DescribeDryRun(PlannedCollection item, RestoreOptions options, Action<string>? report)
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
        return new RestoredCollection(collection.Name, collection.Documents, 0, Verified: false, action);
    }

    private static string Describe(PlannedCollection item) =>
        item.TypeBefore == SnapshotExporter.ViewType ? "a view" : $"{item.DocumentsBefore} documents";

    private async Task<RestoredCollection> StageAsync(string snapshotDirectory, SnapshotManifest manifest, IMongoDatabase database, string run,
        PlannedCollection item, RestoreOptions options, Action<string>? report, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        var collection = item.Collection;
        var staged = RestoreWorkCollections.Staged(run, item.Index);
        var metadata = await SnapshotContent.ReadMetadataAsync(snapshotDirectory, collection, cancellationToken);
        var create = new BsonDocument("create", staged);
        foreach (var option in metadata["options"].AsBsonDocument)
        {
            create[option.Name] = option.Value;
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
            return new RestoredCollection(collection.Name, 0, 0, Verified: true, action);
        }

        var target = database.GetCollection<RawBsonDocument>(staged);
        var inserted = await InsertAsync(snapshotDirectory, collection, target, options, cancellationToken);
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
        logger.LogInformation("Staged {Collection}: {Documents} documents, {Indexes} indexes", collection.Name, inserted, indexes.Count);
        return new RestoredCollection(collection.Name, inserted, indexes.Count, verified, action);
    }

    // Decodes the parts straight into BSON and inserts them in batches, one batch in flight while the next is decoded.
    private static async Task<long> InsertAsync(string snapshotDirectory, CollectionEntry collection, IMongoCollection<RawBsonDocument> target,
        RestoreOptions options, CancellationToken cancellationToken)
    {
        // Order does not matter to a collection (reads sort by _id); a time-series collection buckets measurements as they come.
        var insertOptions = new InsertManyOptions { IsOrdered = collection.Type == SnapshotExporter.TimeSeriesType, BypassDocumentValidation = true };
        var batch = new List<RawBsonDocument>(options.BatchSize);
        var batchBytes = 0;
        Task pending = Task.CompletedTask;
        long inserted = 0;

        async ValueTask SendAsync()
        {
            await pending;
            var sending = batch;
            inserted += sending.Count;
            pending = target.InsertManyAsync(sending, insertOptions, cancellationToken);
            batch = new List<RawBsonDocument>(options.BatchSize);
            batchBytes = 0;
        }

        await SnapshotContent.DecodeAsync(snapshotDirectory, collection, async (bson, _) =>
        {
            if (batch.Count > 0 && (batch.Count >= options.BatchSize || batchBytes + bson.Length > MaxBatchBytes))
            {
                await SendAsync();
            }

            batch.Add(new RawBsonDocument(bson.ToArray()));
            batchBytes += bson.Length;
        }, cancellationToken);
        if (batch.Count > 0)
        {
            await SendAsync();
        }

        await pending;
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

    // Puts every staged collection under its name. The swap marker lists what is replaced, so a swap that fails (or is
    // killed) is undone (now, or by the next restore); dropping the marker is the commit.
    private async Task SwapAsync(IMongoDatabase database, string run, IReadOnlyList<PlannedCollection> plan, Action<string>? report)
    {
        var swapPlan = new SwapPlan(plan.Select(p => new SwapItem(p.Index, p.Collection.Name, p.TypeBefore, p.ViewDefinitionBefore)).ToList());
        var marker = RestoreWorkCollections.SwapMarker(run);
        await database.GetCollection<BsonDocument>(marker).InsertOneAsync(swapPlan.ToBson(), cancellationToken: CancellationToken.None);
        try
        {
            foreach (var item in plan)
            {
                var name = item.Collection.Name;
                var staged = RestoreWorkCollections.Staged(run, item.Index);
                if (item.TypeBefore == SnapshotExporter.ViewType)
                {
                    await database.DropCollectionAsync(name, CancellationToken.None);
                }
                else if (item.TypeBefore is not null)
                {
                    await RestoreWorkCollections.MoveAsync(database, name, RestoreWorkCollections.Replaced(run, item.Index), CancellationToken.None);
                }

                if (item.Collection.Type == SnapshotExporter.ViewType)
                {
                    // A view cannot be renamed: the staged one proved the definition is accepted; create it under its name.
                    var definition = await ViewDefinitionAsync(database, staged, name);
                    await database.DropCollectionAsync(staged, CancellationToken.None);
                    await database.RunCommandAsync<BsonDocument>(definition, cancellationToken: CancellationToken.None);
                }
                else
                {
                    await RestoreWorkCollections.MoveAsync(database, staged, name, CancellationToken.None);
                }
            }
        }
        catch (Exception e)
        {
            logger.LogError("Restore into {Database} failed while swapping collections in ({Error}); putting back what was there",
                database.DatabaseNamespace.DatabaseName, e.Message);
            try
            {
                var names = await (await database.ListCollectionNamesAsync()).ToListAsync();
                await RestoreWorkCollections.RollBackAsync(database, run, swapPlan, names, CancellationToken.None);
                await DropRunAsync(database, run, CancellationToken.None);
            }
            catch (Exception rollback)
            {
                throw new InvalidOperationException(
                    $"The restore failed while swapping collections in ({e.Message}) and could not put them back yet ({rollback.Message}); the next restore into {database.DatabaseNamespace.DatabaseName} puts them back (run {run}).", e);
            }

            throw new InvalidOperationException($"The restore failed while swapping collections in ({e.Message}); the target's collections were put back as they were.", e);
        }

        await database.DropCollectionAsync(marker, CancellationToken.None); // the commit
        await DropRunAsync(database, run, CancellationToken.None);
        report?.Invoke($"swapped in {plan.Count} collections");
    }

    private static async Task<BsonDocument> ViewDefinitionAsync(IMongoDatabase database, string view, string createAs)
    {
        var info = await (await database.ListCollectionsAsync(new ListCollectionsOptions { Filter = new BsonDocument("name", view) }))
            .FirstAsync();
        var create = new BsonDocument("create", createAs);
        create.AddRange(info.GetValue("options", new BsonDocument()).AsBsonDocument);
        return create;
    }

    private static async Task DropRunAsync(IMongoDatabase database, string run, CancellationToken cancellationToken)
    {
        var prefix = $"{RestoreWorkCollections.Prefix}{run}.";
        var names = await (await database.ListCollectionNamesAsync(cancellationToken: cancellationToken)).ToListAsync(cancellationToken);
        foreach (var name in names.Where(n => n.StartsWith(prefix, StringComparison.Ordinal)))
        {
            await database.DropCollectionAsync(name, cancellationToken);
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

    private sealed record PlannedCollection(CollectionEntry Collection, int Index, BsonDocument? Before, long DocumentsBefore)
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

                var create = new BsonDocument("create", Collection.Name);
                create.AddRange(Before!.GetValue("options", new BsonDocument()).AsBsonDocument);
                return create;
            }
        }
    }
}

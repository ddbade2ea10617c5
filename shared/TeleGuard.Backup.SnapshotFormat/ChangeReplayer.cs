using MongoDB.Bson;
using MongoDB.Driver;

namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>
/// Replays recorded change events into a restore's staged collections (docs/increment-format.md, "Replaying"): events
/// at or before the snapshot's cluster time are skipped (the snapshot has them), the others applied in order up to the
/// target time. Writes go only to this run's work collections; what the events do to collections (create, drop,
/// rename) is kept in <see cref="StagedCollections"/> for the swap. Events are untrusted: a document key is matched by
/// equality only, and anything the replay cannot apply exactly stops it.
/// </summary>
/// <param name="isSelected">Whether the restore covers a collection name (<c>--collections</c>); other names' events are skipped.</param>
public sealed class ChangeReplayer(IMongoDatabase database, string run, StagedCollections staged, Func<string, bool> isSelected, Action<string>? report)
{
    /// <summary>Document writes sent in one ordered bulk write.</summary>
    public const int MaxBatch = 1000;

    private readonly List<WriteModel<RawBsonDocument>> _batch = [];
    private readonly HashSet<string> _reported = new(StringComparer.Ordinal);
    private string? _batchCollection;
    private string _batchSource = "";
    private int _batchMustMatch;

    public async Task<ReplayResult> ReplayAsync(ClusterTimestamp snapshotTime, PointInTime pointInTime, CancellationToken cancellationToken)
    {
        long applied = 0, skipped = 0;
        ClusterTimestamp? last = null;
        foreach (var increment in pointInTime.Increments)
        {
            var manifest = increment.Manifest;
            await using var file = new FileStream(increment.EventsFile, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
            long number = 0;
            await foreach (var change in IncrementArchive.ReadRawEventsAsync(file, manifest, cancellationToken))
            {
                // Not disposed: the writes batched from it are sent later (its bytes are a plain array, nothing pooled).
                number++;
                var time = ChangeEventLine.ClusterTime(change);
                if (IncrementManifest.Compare(time, pointInTime.Target) > 0)
                {
                    await FlushAsync(cancellationToken);
                    return new ReplayResult(applied, skipped, last);
                }

                if (IncrementManifest.Compare(time, snapshotTime) <= 0)
                {
                    continue; // the snapshot holds it already
                }

                var source = $"increment {manifest.IncrementId}, event {number}";
                try
                {
                    if (await ApplyAsync(change, manifest.Database, source, cancellationToken))
                    {
                        applied++;
                        last = time;
                    }
                    else
                    {
                        skipped++;
                    }
                }
                catch (Exception e) when (e is InvalidCastException or KeyNotFoundException or ArgumentException)
                {
                    throw new InvalidDataException($"{Capitalized(source)}: not a change event this version replays ({e.Message}).", e);
                }
            }
        }

        await FlushAsync(cancellationToken);
        return new ReplayResult(applied, skipped, last);
    }

    // True when applied, false when skipped (another collection, or an event the format does not replay).
    private async Task<bool> ApplyAsync(BsonDocument change, string databaseName, string source, CancellationToken cancellationToken)
    {
        var operation = ChangeEventLine.OperationType(change);
        var ns = change["ns"].AsBsonDocument;
        if (ns["db"].AsString != databaseName)
        {
            throw new InvalidDataException($"{Capitalized(source)} is of database {ns["db"].AsString}, not {databaseName}.");
        }

        if (operation == ChangeEventLine.DropDatabase)
        {
            await FlushAsync(cancellationToken);
            foreach (var present in staged.Present.Keys.ToList())
            {
                await DropStagedAsync(present, cancellationToken);
            }

            return true;
        }

        var name = ns["coll"].AsString;
        if (operation == ChangeEventLine.Rename)
        {
            return await RenameAsync(name, change["to"].AsBsonDocument, databaseName, source, cancellationToken);
        }

        if (!isSelected(name))
        {
            return false;
        }

        var collection = staged.Find(name);
        if (collection is not null && collection.Type != SnapshotExporter.CollectionType && operation != ChangeEventLine.Drop)
        {
            ReportOnce($"{name}: changes to a {collection.Type} are not replayed; it is restored as the snapshot has it");
            return false;
        }

        switch (operation)
        {
            case ChangeEventLine.Insert or ChangeEventLine.Replace:
                await ReplaceAsync(name, change, source, cancellationToken);
                return true;
            case ChangeEventLine.Update when change.Contains("fullDocument"):
                await ReplaceAsync(name, change, source, cancellationToken);
                return true;
            case ChangeEventLine.Update:
                await UpdateAsync(name, change, source, cancellationToken);
                return true;
            case ChangeEventLine.Delete:
                if (collection is not null)
                {
                    // Deleting what is not there leaves the same result: nothing to check.
                    await AddWriteAsync(name, source, [new DeleteOneModel<RawBsonDocument>(KeyFilter(change, source))], mustMatch: 0, cancellationToken);
                }

                return true;
            case ChangeEventLine.Drop:
                await FlushAsync(cancellationToken);
                await DropStagedAsync(name, cancellationToken);
                return true;
            case ChangeEventLine.Create:
                return await CreateAsync(name, change["operationDescription"].AsBsonDocument, cancellationToken);
            case ChangeEventLine.CreateIndexes:
                await CreateIndexesAsync(name, change["operationDescription"]["indexes"].AsBsonArray, cancellationToken);
                return true;
            case ChangeEventLine.DropIndexes:
                await DropIndexesAsync(name, change["operationDescription"]["indexes"].AsBsonArray, cancellationToken);
                return true;
            default:
                // modify: a collection keeps the options the snapshot had.
                ReportOnce($"{name}: {operation} events are not replayed; the collection keeps the snapshot's options");
                return false;
        }
    }

    private async Task ReplaceAsync(string name, BsonDocument change, string source, CancellationToken cancellationToken)
    {
        var document = change["fullDocument"].AsBsonDocument;
        var key = change["documentKey"].AsBsonDocument;
        if (!document.TryGetValue("_id", out var id) || !key.TryGetValue("_id", out var keyId) || id != keyId)
        {
            throw new InvalidDataException($"{Capitalized(source)}: its fullDocument is not the document its documentKey names.");
        }

        await EnsureCollectionAsync(name, cancellationToken);
        var replacement = (RawBsonDocument)document; // read from a RawBsonDocument event: written as recorded, byte for byte
        await AddWriteAsync(name, source, [new ReplaceOneModel<RawBsonDocument>(KeyFilter(change, source), replacement) { IsUpsert = true }], mustMatch: 1, cancellationToken);
    }

    private async Task UpdateAsync(string name, BsonDocument change, string source, CancellationToken cancellationToken)
    {
        var description = change["updateDescription"].AsBsonDocument;
        if (description.Contains("disambiguatedPaths"))
        {
            throw new InvalidDataException(
                $"{Capitalized(source)}: an update with disambiguatedPaths and no post-image cannot be replayed exactly (a field name holding '.' cannot be told from a path); enable changeStreamPreAndPostImages on {name}.");
        }

        if (staged.Find(name) is null)
        {
            throw new InvalidDataException($"{Capitalized(source)} updates a document of {name}, which does not exist at that time: the history does not match the snapshot.");
        }

        var filter = KeyFilter(change, source);
        var steps = new List<WriteModel<RawBsonDocument>>();
        foreach (var truncated in description.GetValue("truncatedArrays", new BsonArray()).AsBsonArray.Select(t => t.AsBsonDocument))
        {
            var slice = new BsonDocument { { "$each", new BsonArray() }, { "$slice", truncated["newSize"].ToInt32() } };
            steps.Add(new UpdateOneModel<RawBsonDocument>(filter, new BsonDocument("$push", new BsonDocument(truncated["field"].AsString, slice))));
        }

        var removed = description.GetValue("removedFields", new BsonArray()).AsBsonArray;
        if (removed.Count > 0)
        {
            steps.Add(new UpdateOneModel<RawBsonDocument>(filter, new BsonDocument("$unset", new BsonDocument(removed.Select(f => new BsonElement(f.AsString, ""))))));
        }

        var updated = description.GetValue("updatedFields", new BsonDocument()).AsBsonDocument;
        if (updated.ElementCount > 0)
        {
            steps.Add(new UpdateOneModel<RawBsonDocument>(filter, new BsonDocument("$set", updated)));
        }

        await AddWriteAsync(name, source, steps, mustMatch: steps.Count, cancellationToken);
    }

    // The document key as the filter, refused when a value would not be matched by equality (an operator document, a
    // regular expression, an array at the top): none can be a stored key, and a recorded key must not select other documents.
    private static BsonDocument KeyFilter(BsonDocument change, string source)
    {
        var key = change["documentKey"].AsBsonDocument;
        if (!key.Contains("_id") || key.Any(e => e.Name.Length == 0 || e.Name.StartsWith('$') || !IsEqualityValue(e.Value)))
        {
            throw new InvalidDataException($"{Capitalized(source)}: its documentKey is not a document key.");
        }

        return key;
    }

    private static bool IsEqualityValue(BsonValue value) => value switch
    {
        BsonArray or BsonRegularExpression => false,
        BsonDocument document => document.Names.All(n => !n.StartsWith('$')),
        _ => true,
    };

    private async Task<bool> RenameAsync(string from, BsonDocument to, string databaseName, string source, CancellationToken cancellationToken)
    {
        await FlushAsync(cancellationToken);
        // Renamed into another database: gone from this one.
        var toName = to["db"].AsString == databaseName ? to["coll"].AsString : null;
        var fromSelected = isSelected(from);
        var toSelected = toName is not null && isSelected(toName);
        if (!fromSelected && !toSelected)
        {
            return false;
        }

        if (!fromSelected)
        {
            // What it holds was never followed: restoring it would be a guess.
            throw new InvalidOperationException(
                $"{Capitalized(source)}: {from} is renamed to {toName}, and this restore leaves {from} out; restore both (or neither) with --collections.");
        }

        if (staged.Find(from) is null)
        {
            throw new InvalidDataException($"{Capitalized(source)} renames {from}, which does not exist at that time: the history does not match the snapshot.");
        }

        if (!toSelected)
        {
            // Renamed out of the restore: the name is gone; the collection it became is not restored.
            ReportOnce($"{from} is renamed to {toName ?? $"{to["db"].AsString}.{to["coll"].AsString}"}, which this restore leaves out: {from} is removed, the renamed collection is not restored");
            await DropStagedAsync(from, cancellationToken);
            return true;
        }

        if (staged.Find(toName!) is not null)
        {
            await DropStagedAsync(toName!, cancellationToken); // renameCollection with dropTarget
        }

        staged.Rename(from, toName!);
        return true;
    }

    private async Task<bool> CreateAsync(string name, BsonDocument description, CancellationToken cancellationToken)
    {
        if (description.Contains("viewOn") || description.Contains("timeseries"))
        {
            ReportOnce($"{name}: views and time-series collections created after the snapshot are not replayed");
            return false;
        }

        if (staged.Find(name) is null)
        {
            await FlushAsync(cancellationToken);
            await CreateStagedAsync(name, new BsonDocument(description.Where(o => SnapshotRestorer.CollectionOptions.Contains(o.Name))), cancellationToken);
        }

        return true;
    }

    private async Task CreateIndexesAsync(string name, BsonArray indexes, CancellationToken cancellationToken)
    {
        await FlushAsync(cancellationToken);
        var collection = await EnsureCollectionAsync(name, cancellationToken);
        var specs = indexes.Select(i => i.AsBsonDocument).Where(i => i.GetValue("name", "").AsString != "_id_")
            .Select(i => new BsonDocument(i.Where(e => e.Name is not ("v" or "ns")))).ToList();
        if (specs.Count > 0)
        {
            await database.RunCommandAsync<BsonDocument>(
                new BsonDocument { { "createIndexes", RestoreWorkCollections.Staged(run, collection.Index) }, { "indexes", new BsonArray(specs) } },
                cancellationToken: cancellationToken);
        }
    }

    private async Task DropIndexesAsync(string name, BsonArray indexes, CancellationToken cancellationToken)
    {
        await FlushAsync(cancellationToken);
        if (staged.Find(name) is not { } collection)
        {
            return;
        }

        foreach (var index in indexes.Select(i => i.AsBsonDocument["name"].AsString).Where(n => n != "_id_"))
        {
            try
            {
                await database.RunCommandAsync<BsonDocument>(
                    new BsonDocument { { "dropIndexes", RestoreWorkCollections.Staged(run, collection.Index) }, { "index", index } }, cancellationToken: cancellationToken);
            }
            catch (MongoCommandException e) when (e.Code == IndexNotFoundCode)
            {
                // Already absent: the same result.
            }
        }
    }

    private const int IndexNotFoundCode = 27;

    // An insert into a collection the history has not created yet (a recorder without create events): created as the
    // server would, with default options.
    private async Task<StagedEntry> EnsureCollectionAsync(string name, CancellationToken cancellationToken)
    {
        if (staged.Find(name) is { } collection)
        {
            return collection;
        }

        await FlushAsync(cancellationToken);
        return await CreateStagedAsync(name, [], cancellationToken);
    }

    private async Task<StagedEntry> CreateStagedAsync(string name, BsonDocument options, CancellationToken cancellationToken)
    {
        var collection = staged.Add(name, SnapshotExporter.CollectionType);
        var create = new BsonDocument("create", RestoreWorkCollections.Staged(run, collection.Index));
        create.AddRange(options);
        await database.RunCommandAsync<BsonDocument>(create, cancellationToken: cancellationToken);
        return collection;
    }

    private async Task DropStagedAsync(string name, CancellationToken cancellationToken)
    {
        if (staged.Remove(name) is { } removed)
        {
            await database.DropCollectionAsync(RestoreWorkCollections.Staged(run, removed.Index), cancellationToken);
        }
    }

    private async Task AddWriteAsync(string name, string source, List<WriteModel<RawBsonDocument>> writes, int mustMatch, CancellationToken cancellationToken)
    {
        var stagedName = RestoreWorkCollections.Staged(run, staged.Find(name)!.Index);
        if (_batchCollection != stagedName || _batch.Count + writes.Count > MaxBatch)
        {
            await FlushAsync(cancellationToken);
            _batchCollection = stagedName;
            _batchSource = source;
        }

        _batch.AddRange(writes);
        _batchMustMatch += mustMatch;
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_batch.Count == 0)
        {
            return;
        }

        var collection = database.GetCollection<RawBsonDocument>(_batchCollection!);
        BulkWriteResult<RawBsonDocument> result;
        try
        {
            result = await collection.BulkWriteAsync(_batch, new BulkWriteOptions { IsOrdered = true, BypassDocumentValidation = true }, cancellationToken);
        }
        catch (MongoBulkWriteException<RawBsonDocument> e)
        {
            throw new InvalidOperationException(
                $"The target refused a replayed change (from {_batchSource} on): {string.Join("; ", e.WriteErrors.Select(w => w.Message))}", e);
        }
        catch (MongoCommandException e)
        {
            throw new InvalidOperationException($"The target refused a replayed change (from {_batchSource} on): {e.ErrorMessage}", e);
        }

        // Every replacement upserts or matches; every update step must find its document.
        if (result.MatchedCount + result.Upserts.Count != _batchMustMatch)
        {
            throw new InvalidDataException(
                $"An update replayed from {_batchSource} on found no document to change: the history does not match the snapshot.");
        }

        _batch.Clear();
        _batchMustMatch = 0;
    }

    private void ReportOnce(string line)
    {
        if (_reported.Add(line))
        {
            report?.Invoke(line);
        }
    }

    private static string Capitalized(string text) => char.ToUpperInvariant(text[0]) + text[1..];
}

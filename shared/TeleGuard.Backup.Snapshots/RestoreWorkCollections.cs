using MongoDB.Bson;
using MongoDB.Driver;

namespace TeleGuard.Backup.Snapshots;

/// <summary>
/// The collections a staged restore works with in the target database, all named <c>teleguard.restore.&lt;run&gt;.…</c>:
/// <c>new.&lt;n&gt;</c> holds collection n of the snapshot while it is written, <c>old.&lt;n&gt;</c> the collection it replaces
/// while the swap runs, and <c>swap</c> (one document: the names and what existed before) exists exactly while the swap
/// is in progress, so that a restore killed in the middle of its swap is rolled back by the next one.
/// The exporter never backs these up.
/// </summary>
public static class RestoreWorkCollections
{
    public const string Prefix = "teleguard.restore.";

    public static string Staged(string run, int index) => $"{Prefix}{run}.new.{index}";

    public static string Replaced(string run, int index) => $"{Prefix}{run}.old.{index}";

    public static string SwapMarker(string run) => $"{Prefix}{run}.swap";

    public static bool IsWorkCollection(string name) => name.StartsWith(Prefix, StringComparison.Ordinal);

    public static string NewRunId() => Guid.NewGuid().ToString("N")[..12];

    /// <summary>
    /// Finishes what killed restores left: a run whose swap marker is still there is rolled back (the collections it
    /// replaced get their names back), then every work collection of earlier runs is dropped. Returns one line per run.
    /// </summary>
    public static async Task<IReadOnlyList<string>> RecoverStaleAsync(IMongoDatabase database, CancellationToken cancellationToken)
    {
        var names = await (await database.ListCollectionNamesAsync(cancellationToken: cancellationToken)).ToListAsync(cancellationToken);
        var runs = names.Where(IsWorkCollection)
            .Select(n => n[Prefix.Length..].Split('.')[0])
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .ToList();
        var report = new List<string>();
        foreach (var run in runs)
        {
            var rolledBack = 0;
            if (names.Contains(SwapMarker(run)))
            {
                var marker = await database.GetCollection<BsonDocument>(SwapMarker(run)).Find(FilterDefinition<BsonDocument>.Empty)
                    .FirstOrDefaultAsync(cancellationToken);
                rolledBack = marker is null ? 0 : await RollBackAsync(database, run, SwapPlan.FromBson(marker), names, cancellationToken);
            }

            var current = await (await database.ListCollectionNamesAsync(cancellationToken: cancellationToken)).ToListAsync(cancellationToken);
            var leftovers = current.Where(n => n.StartsWith($"{Prefix}{run}.", StringComparison.Ordinal)).ToList();
            foreach (var name in leftovers)
            {
                await database.DropCollectionAsync(name, cancellationToken);
            }

            report.Add(rolledBack > 0
                ? $"an interrupted restore (run {run}) was in the middle of its swap: {rolledBack} collections were put back as they were, and its {leftovers.Count} temporary collections removed"
                : $"removed {leftovers.Count} temporary collections left by an interrupted restore (run {run})");
        }

        return report;
    }

    /// <summary>
    /// Undoes a swap: a collection the run moved aside gets its name back, a view it replaced is recreated from its saved
    /// definition, and a collection that did not exist before is dropped. Returns how many names were put back.
    /// </summary>
    internal static async Task<int> RollBackAsync(IMongoDatabase database, string run, SwapPlan plan, IReadOnlyCollection<string> existing,
        CancellationToken cancellationToken)
    {
        var restored = 0;
        var present = existing.ToHashSet(StringComparer.Ordinal);
        foreach (var item in plan.Items)
        {
            var replaced = Replaced(run, item.Index);
            if (present.Contains(replaced))
            {
                await database.DropCollectionAsync(item.Name, cancellationToken);
                await MoveAsync(database, replaced, item.Name, cancellationToken);
                restored++;
            }
            else if (item.ViewBefore is { } view)
            {
                await database.DropCollectionAsync(item.Name, cancellationToken);
                await database.RunCommandAsync<BsonDocument>(view, cancellationToken: cancellationToken);
                restored++;
            }
            else if (item.TypeBefore is null)
            {
                await database.DropCollectionAsync(item.Name, cancellationToken);
            }
        }

        await database.DropCollectionAsync(SwapMarker(run), cancellationToken);
        return restored;
    }

    /// <summary>
    /// Gives a collection a new name (the target must not exist): <c>renameCollection</c>, or for a time-series collection,
    /// which MongoDB cannot rename, a copy into a new time-series collection with the same options, then a drop.
    /// </summary>
    internal static async Task MoveAsync(IMongoDatabase database, string from, string to, CancellationToken cancellationToken, bool copy = false)
    {
        var info = await (await database.ListCollectionsAsync(new ListCollectionsOptions { Filter = new BsonDocument("name", from) }, cancellationToken))
            .FirstOrDefaultAsync(cancellationToken) ?? throw new InvalidOperationException($"Collection {from} does not exist.");
        if (!copy && info.GetValue("type", SnapshotExporter.CollectionType).AsString != SnapshotExporter.TimeSeriesType)
        {
            var prefix = database.DatabaseNamespace.DatabaseName + ".";
            await database.Client.GetDatabase("admin").RunCommandAsync<BsonDocument>(
                new BsonDocument { { "renameCollection", prefix + from }, { "to", prefix + to }, { "dropTarget", false } },
                cancellationToken: cancellationToken);
            return;
        }

        var create = new BsonDocument("create", to);
        create.AddRange(info.GetValue("options", new BsonDocument()).AsBsonDocument);
        await database.RunCommandAsync<BsonDocument>(create, cancellationToken: cancellationToken);
        var source = database.GetCollection<RawBsonDocument>(from);
        var target = database.GetCollection<RawBsonDocument>(to);
        var batch = new List<RawBsonDocument>();
        using (var cursor = await source.FindAsync(FilterDefinition<RawBsonDocument>.Empty, cancellationToken: cancellationToken))
        {
            while (await cursor.MoveNextAsync(cancellationToken))
            {
                batch.AddRange(cursor.Current);
                await target.InsertManyAsync(batch, new InsertManyOptions { IsOrdered = false, BypassDocumentValidation = true }, cancellationToken);
                batch.ForEach(d => d.Dispose());
                batch.Clear();
            }
        }

        var indexes = await (await source.Indexes.ListAsync(cancellationToken)).ToListAsync(cancellationToken);
        var secondary = indexes.Where(i => i.GetValue("name", "").AsString != "_id_")
            .Select(i => new BsonDocument(i.Where(e => e.Name is not ("v" or "ns")))).ToList();
        if (secondary.Count > 0)
        {
            await database.RunCommandAsync<BsonDocument>(new BsonDocument { { "createIndexes", to }, { "indexes", new BsonArray(secondary) } },
                cancellationToken: cancellationToken);
        }

        await database.DropCollectionAsync(from, cancellationToken);
    }
}

/// <summary>What a swap will do, stored in the swap marker before it starts so that a killed swap can be undone.</summary>
internal sealed record SwapPlan(IReadOnlyList<SwapItem> Items)
{
    public BsonDocument ToBson() => new("items", new BsonArray(Items.Select(i => new BsonDocument
    {
        { "index", i.Index },
        { "name", i.Name },
        { "typeBefore", i.TypeBefore is null ? BsonNull.Value : i.TypeBefore },
        { "viewBefore", i.ViewBefore is null ? BsonNull.Value : i.ViewBefore },
    })));

    public static SwapPlan FromBson(BsonDocument document) => new(
        document["items"].AsBsonArray.Select(i => i.AsBsonDocument)
            .Select(i => new SwapItem(
                i["index"].AsInt32,
                i["name"].AsString,
                i["typeBefore"].IsString ? i["typeBefore"].AsString : null,
                i["viewBefore"].IsBsonDocument ? i["viewBefore"].AsBsonDocument : null))
            .ToList());
}

/// <param name="Index">The collection's number in this run (its work collections' names).</param>
/// <param name="TypeBefore">What the target held under this name before the restore (collection, view, timeseries), or null.</param>
/// <param name="ViewBefore">The <c>create</c> command of the view it replaces, to recreate it on rollback.</param>
internal sealed record SwapItem(int Index, string Name, string? TypeBefore, BsonDocument? ViewBefore);

using MongoDB.Bson;
using MongoDB.Driver;

namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>
/// Puts staged collections under their names and can always undo it. Before the first step a marker
/// (<c>teleguard.restore.&lt;run&gt;.swap</c>) records every item; each item then goes <c>pending</c> → <c>aside</c> (the
/// target's collection renamed to <c>old.&lt;n&gt;</c>, or its view dropped) → <c>moving-in</c> → <c>in</c>, the state
/// written after each step. Dropping the marker is the commit. A failure, or the next restore after a kill, rolls
/// back from the marker and what exists: only what this run placed is ever dropped, and the moved-aside collections
/// get their names back. An item of <see cref="SwapItem.AbsentType"/> (a restore to a time at which the collection did
/// not exist) only moves the target's collection aside; the commit drops it with the run's work collections.
/// </summary>
public static class RestoreSwap
{
    private const string Pending = "pending";
    private const string Aside = "aside";
    private const string MovingIn = "moving-in";
    private const string In = "in";

    /// <summary>Swaps every item in; on failure rolls back and throws.</summary>
    /// <param name="refuseNonEmpty">Whether a collection that was empty when planned but received documents since is refused (no --drop).</param>
    public static async Task SwapInAsync(IMongoDatabase database, string run, IReadOnlyList<SwapItem> items, bool refuseNonEmpty)
    {
        var marker = database.GetCollection<BsonDocument>(RestoreWorkCollections.SwapMarker(run));
        try
        {
            await marker.InsertOneAsync(ToMarker(items));
            foreach (var item in items)
            {
                await MoveInAsync(database, run, item, refuseNonEmpty, state => SetStateAsync(marker, item.Index, state));
            }
        }
        catch (Exception e)
        {
            try
            {
                if (await RestoreWorkCollections.InfoAsync(database, marker.CollectionNamespace.CollectionName, CancellationToken.None) is not null)
                {
                    await RollBackAsync(database, run, CancellationToken.None);
                }
                else
                {
                    await RestoreWorkCollections.DropRunAsync(database, run, CancellationToken.None);
                }
            }
            catch (Exception rollback)
            {
                throw new InvalidOperationException(
                    $"The restore failed while swapping collections in ({e.Message}) and could not put them back yet ({rollback.Message}); the next restore into {database.DatabaseNamespace.DatabaseName} puts them back (run {run}).", e);
            }

            throw new InvalidOperationException($"The restore failed while swapping collections in ({e.Message}); the target's collections were put back as they were.", e);
        }

        await database.DropCollectionAsync(marker.CollectionNamespace.CollectionName); // the commit
        await RestoreWorkCollections.DropRunAsync(database, run, CancellationToken.None);
    }

    private static async Task MoveInAsync(IMongoDatabase database, string run, SwapItem item, bool refuseNonEmpty, Func<string, Task> setState)
    {
        var none = CancellationToken.None; // a swap step, once begun, is finished or undone, never abandoned
        var replaced = RestoreWorkCollections.Replaced(run, item.Index);
        var staged = RestoreWorkCollections.Staged(run, item.Index);
        if (item.TypeBefore == SnapshotExporter.ViewType)
        {
            await database.DropCollectionAsync(item.Name, none);
        }
        else if (item.TypeBefore is not null)
        {
            await RestoreWorkCollections.MoveAsync(database, item.Name, replaced, none);
            if (refuseNonEmpty && await database.GetCollection<BsonDocument>(replaced).CountDocumentsAsync(FilterDefinition<BsonDocument>.Empty, cancellationToken: none) > 0)
            {
                throw new InvalidOperationException($"{item.Name} received documents while the restore was running; it is not replaced without --drop.");
            }
        }

        await setState(Aside);
        if (item.SnapshotType == SwapItem.AbsentType)
        {
            // Nothing moves in: the target's collection stays aside until the commit drops it, or a rollback puts it back.
            await setState(In);
            return;
        }

        await setState(MovingIn);
        if (item.SnapshotType == SnapshotExporter.ViewType)
        {
            // A view cannot be renamed: the staged one proved the definition is accepted; create it under its name.
            var info = await RestoreWorkCollections.InfoAsync(database, staged, none) ?? throw new InvalidOperationException($"The staged view {staged} is gone.");
            var create = new BsonDocument("create", item.Name);
            create.AddRange(info.GetValue("options", new BsonDocument()).AsBsonDocument);
            await database.RunCommandAsync<BsonDocument>(create, cancellationToken: none);
            await database.DropCollectionAsync(staged, none);
        }
        else
        {
            await RestoreWorkCollections.MoveAsync(database, staged, item.Name, none);
        }

        await setState(In);
    }

    /// <summary>
    /// Undoes an unfinished swap from its marker (newest item first): drops what this run placed under a name, gives
    /// moved-aside collections their names back, recreates replaced views, then drops the run's work collections.
    /// Returns how many names got their original back.
    /// </summary>
    public static async Task<int> RollBackAsync(IMongoDatabase database, string run, CancellationToken cancellationToken)
    {
        var markerName = RestoreWorkCollections.SwapMarker(run);
        var marker = await database.GetCollection<BsonDocument>(markerName).Find(FilterDefinition<BsonDocument>.Empty).FirstOrDefaultAsync(cancellationToken);
        var (items, states) = marker is null ? ([], new Dictionary<int, string>()) : FromMarker(marker, markerName);
        var restored = 0;
        foreach (var item in items.AsEnumerable().Reverse())
        {
            var names = (await RestoreWorkCollections.ListNamesAsync(database, cancellationToken)).ToHashSet(StringComparer.Ordinal);
            var state = states.GetValueOrDefault(item.Index, Pending);
            var staged = RestoreWorkCollections.Staged(run, item.Index);
            var replaced = RestoreWorkCollections.Replaced(run, item.Index);
            if (state is In or MovingIn && names.Contains(item.Name) && await PlacedByThisRunAsync(database, item, state, names.Contains(staged), cancellationToken))
            {
                await database.DropCollectionAsync(item.Name, cancellationToken);
                names.Remove(item.Name);
            }

            if (names.Contains(replaced))
            {
                if (state == Pending && names.Contains(item.Name))
                {
                    await database.DropCollectionAsync(replaced, cancellationToken); // a copy cut short: the original never left
                }
                else if (names.Contains(item.Name))
                {
                    throw new InvalidOperationException(
                        $"cannot give {item.Name} its original back: a collection of that name appeared meanwhile; the original is kept as {replaced}");
                }
                else
                {
                    await RestoreWorkCollections.MoveAsync(database, replaced, item.Name, cancellationToken);
                    restored++;
                }
            }
            else if (item.ViewBefore is { } view && !names.Contains(item.Name))
            {
                await database.RunCommandAsync<BsonDocument>(view, cancellationToken: cancellationToken);
                restored++;
            }
        }

        await database.DropCollectionAsync(markerName, cancellationToken);
        await RestoreWorkCollections.DropRunAsync(database, run, cancellationToken);
        return restored;
    }

    // Whether what is under the item's name now was put there by this run (and not left by the target or its users).
    private static async Task<bool> PlacedByThisRunAsync(IMongoDatabase database, SwapItem item, string state, bool stagedExists, CancellationToken cancellationToken)
    {
        if (item.SnapshotType == SwapItem.AbsentType)
        {
            return false; // this run places nothing under an absent name
        }

        if (state == In)
        {
            return true;
        }

        if (item.SnapshotType == SnapshotExporter.ViewType)
        {
            var info = await RestoreWorkCollections.InfoAsync(database, item.Name, cancellationToken);
            return info?.GetValue("type", "").AsString == SnapshotExporter.ViewType;
        }

        // Renamed in: the staged collection is gone. Copied in: the copy under the name is ours, whole or not.
        return !stagedExists || RestoreWorkCollections.MovesByCopy(item.SnapshotType);
    }

    private static async Task SetStateAsync(IMongoCollection<BsonDocument> marker, int index, string state) =>
        await marker.UpdateOneAsync(new BsonDocument("_id", "swap"), new BsonDocument("$set", new BsonDocument($"state.{index}", state)));

    private static BsonDocument ToMarker(IReadOnlyList<SwapItem> items) => new()
    {
        { "_id", "swap" },
        { "items", new BsonArray(items.Select(i => new BsonDocument
        {
            { "index", i.Index },
            { "name", i.Name },
            { "snapshotType", i.SnapshotType },
            { "typeBefore", i.TypeBefore is null ? BsonNull.Value : i.TypeBefore },
            { "viewBefore", i.ViewBefore is null ? BsonNull.Value : i.ViewBefore },
        })) },
        { "state", new BsonDocument(items.Select(i => new BsonElement(i.Index.ToString(System.Globalization.CultureInfo.InvariantCulture), Pending))) },
    };

    // Reads a marker, refusing anything this code would not have written: a rollback acts on the database.
    private static (List<SwapItem> Items, Dictionary<int, string> States) FromMarker(BsonDocument marker, string markerName)
    {
        try
        {
            var items = marker["items"].AsBsonArray.Select(v => v.AsBsonDocument).Select(i =>
            {
                var name = i["name"].AsString;
                var snapshotType = i["snapshotType"].AsString;
                var typeBefore = i["typeBefore"].IsString ? i["typeBefore"].AsString : null;
                var viewBefore = i["viewBefore"].IsBsonDocument ? i["viewBefore"].AsBsonDocument : null;
                if (!SnapshotManifest.IsRestorableCollectionName(name) || (!SnapshotExporter.ExportableTypes.Contains(snapshotType) && snapshotType != SwapItem.AbsentType)
                    || (typeBefore is not null && !SnapshotExporter.ExportableTypes.Contains(typeBefore))
                    || (viewBefore is not null && !IsViewDefinition(viewBefore, name)))
                {
                    throw new FormatException("an item is not one this program writes");
                }

                return new SwapItem(i["index"].AsInt32, name, snapshotType, typeBefore, viewBefore);
            }).ToList();
            var states = marker["state"].AsBsonDocument.ToDictionary(
                e => int.Parse(e.Name, System.Globalization.CultureInfo.InvariantCulture),
                e => e.Value.AsString is Pending or Aside or MovingIn or In ? e.Value.AsString : throw new FormatException("unknown state"));
            if (items.Select(i => i.Index).Distinct().Count() != items.Count || items.Select(i => i.Name).Distinct(StringComparer.Ordinal).Count() != items.Count)
            {
                throw new FormatException("duplicate items");
            }

            return (items, states);
        }
        catch (Exception e) when (e is FormatException or InvalidCastException or KeyNotFoundException or OverflowException)
        {
            throw new InvalidDataException($"The swap marker {markerName} is not one this program wrote ({e.Message}); nothing was rolled back. Inspect it and its work collections by hand.", e);
        }
    }

    private static bool IsViewDefinition(BsonDocument view, string name) =>
        view.ElementCount >= 3 && view.GetElement(0) is { Name: "create" } create && create.Value == name
        && view.Names.All(n => n is "create" or "viewOn" or "pipeline" or "collation")
        && view.GetValue("viewOn", BsonNull.Value).IsString && view.GetValue("pipeline", BsonNull.Value).IsBsonArray;
}

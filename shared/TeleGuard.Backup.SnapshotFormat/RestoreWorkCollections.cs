using System.Text.RegularExpressions;
using MongoDB.Bson;
using MongoDB.Driver;

namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>
/// The collections a staged restore works with in the target database: <c>teleguard.restore.&lt;run&gt;.new.&lt;n&gt;</c>
/// holds collection n of the snapshot while it is written, <c>….old.&lt;n&gt;</c> the collection it replaces while the
/// swap runs, <c>….swap</c> (see <see cref="RestoreSwap"/>) exists exactly while the swap is in progress, and
/// <c>teleguard.restore.lease</c> says which restore is running. Run ids are 12 lower-case hex digits. Only names of
/// exactly these shapes are work collections: the exporter leaves them out, a snapshot may not hold them.
/// </summary>
public static partial class RestoreWorkCollections
{
    public const string Prefix = "teleguard.restore.";
    public const string LeaseCollection = "teleguard.restore.lease";

    [GeneratedRegex(@"^teleguard\.restore\.(?<run>[0-9a-f]{12})\.(?:(?:new|old)\.[0-9]{1,6}|swap)\z", RegexOptions.CultureInvariant)]
    private static partial Regex RunCollection();

    public static string Staged(string run, int index) => $"{Prefix}{run}.new.{index}";

    public static string Replaced(string run, int index) => $"{Prefix}{run}.old.{index}";

    public static string SwapMarker(string run) => $"{Prefix}{run}.swap";

    public static bool IsWorkCollection(string name) => name == LeaseCollection || RunCollection().IsMatch(name);

    /// <summary>The run a work collection belongs to, or null (the lease, or not a work collection).</summary>
    public static string? RunOf(string name) => RunCollection().Match(name) is { Success: true } match ? match.Groups["run"].Value : null;

    public static string NewRunId() => Guid.NewGuid().ToString("N")[..12];

    public static async Task<List<string>> ListNamesAsync(IMongoDatabase database, CancellationToken cancellationToken) =>
        await (await database.ListCollectionNamesAsync(cancellationToken: cancellationToken)).ToListAsync(cancellationToken);

    public static async Task<BsonDocument?> InfoAsync(IMongoDatabase database, string name, CancellationToken cancellationToken) =>
        await (await database.ListCollectionsAsync(new ListCollectionsOptions { Filter = new BsonDocument("name", name) }, cancellationToken))
            .FirstOrDefaultAsync(cancellationToken);

    /// <summary>Drops every work collection of a run.</summary>
    public static async Task DropRunAsync(IMongoDatabase database, string run, CancellationToken cancellationToken)
    {
        foreach (var name in (await ListNamesAsync(database, cancellationToken)).Where(n => RunOf(n) == run))
        {
            await database.DropCollectionAsync(name, cancellationToken);
        }
    }

    /// <summary>Whether moving this collection copies it (MongoDB cannot rename a time-series collection).</summary>
    public static bool MovesByCopy(string? type) => type == SnapshotExporter.TimeSeriesType;

    /// <summary>
    /// Gives a collection a new name (the target must not exist): <c>renameCollection</c>, or for a time-series collection
    /// a copy into a new one with the same options and indexes, after which the source is dropped; so at any moment the
    /// source is whole, or the copy is.
    /// </summary>
    public static async Task MoveAsync(IMongoDatabase database, string from, string to, CancellationToken cancellationToken)
    {
        var info = await InfoAsync(database, from, cancellationToken) ?? throw new InvalidOperationException($"Collection {from} does not exist.");
        if (!MovesByCopy(info.GetValue("type", SnapshotExporter.CollectionType).AsString))
        {
            var prefix = database.DatabaseNamespace.DatabaseName + ".";
            await database.Client.GetDatabase("admin").RunCommandAsync<BsonDocument>(
                new BsonDocument { { "renameCollection", prefix + from }, { "to", prefix + to }, { "dropTarget", false } },
                cancellationToken: cancellationToken);
            return;
        }

        await CopyAsync(database, info, to, cancellationToken);
        await database.DropCollectionAsync(from, cancellationToken);
    }

    private static async Task CopyAsync(IMongoDatabase database, BsonDocument info, string to, CancellationToken cancellationToken)
    {
        var from = info["name"].AsString;
        var create = new BsonDocument("create", to);
        create.AddRange(info.GetValue("options", new BsonDocument()).AsBsonDocument);
        await database.RunCommandAsync<BsonDocument>(create, cancellationToken: cancellationToken);
        var source = database.GetCollection<RawBsonDocument>(from);
        var target = database.GetCollection<RawBsonDocument>(to);
        using (var cursor = await source.FindAsync(FilterDefinition<RawBsonDocument>.Empty, cancellationToken: cancellationToken))
        {
            while (await cursor.MoveNextAsync(cancellationToken))
            {
                var batch = cursor.Current.ToList();
                if (batch.Count > 0)
                {
                    await target.InsertManyAsync(batch, new InsertManyOptions { IsOrdered = true, BypassDocumentValidation = true }, cancellationToken);
                }

                batch.ForEach(d => d.Dispose());
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
    }
}

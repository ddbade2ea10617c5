using Microsoft.Extensions.Logging;
using MongoDB.Bson;
using MongoDB.Driver;

namespace TeleGuard.Backup.Storage;

/// <summary>
/// This product's records in <c>backups_meta</c>: the documents with <c>kind: "teleguard.snapshot"</c>. The collection
/// may also hold documents that other programs wrote (the bot's earlier backup job: ObjectId ids, other shapes). Every
/// query made here carries the discriminator, so the server never returns, matches or changes anything else, and
/// nothing foreign is ever deserialised as a <see cref="BackupRecord"/>.
/// </summary>
internal sealed partial class OwnBackupRecords(IMongoCollection<BackupRecord> collection, ILogger logger)
{
    private static FilterDefinitionBuilder<BackupRecord> Filter => Builders<BackupRecord>.Filter;

    private static readonly FilterDefinition<BackupRecord> Own = Filter.Eq(r => r.Kind, BackupRecord.SnapshotKind);

    /// <summary>
    /// A record written before records carried <c>kind</c>: a string <c>_id</c> in snapshot-id form and the fields every
    /// such record got when it was created (one of this product's statuses, <c>requestedAt</c>, <c>sinks</c>). A foreign
    /// document would have to look exactly like one of these to be taken for one.
    /// </summary>
    private static readonly FilterDefinition<BackupRecord> OwnWithoutKind =
        Filter.Exists(r => r.Kind, false)
        & Filter.Type("_id", "string")
        & Filter.Regex("_id", new BsonRegularExpression(@"^\d{8}T\d{6}Z$"))
        & Filter.In(r => r.Status, BackupStatus.All)
        & Filter.Type(r => r.RequestedAt, "date")
        & Filter.Type(r => r.Sinks, "object");

    private volatile bool _kindStamped;

    public async Task<List<BackupRecord>> FindAsync(
        FilterDefinition<BackupRecord> filter, SortDefinition<BackupRecord> sort, int? limit, CancellationToken cancellationToken)
    {
        await StampKindOnceAsync(cancellationToken);
        var find = collection.Find(Own & filter).Sort(sort);
        return await (limit is { } n ? find.Limit(n) : find).ToListAsync(cancellationToken);
    }

    public async Task<BackupRecord?> FindFirstAsync(
        FilterDefinition<BackupRecord> filter, SortDefinition<BackupRecord>? sort, CancellationToken cancellationToken)
    {
        await StampKindOnceAsync(cancellationToken);
        var find = collection.Find(Own & filter);
        return await (sort is null ? find : find.Sort(sort)).Limit(1).FirstOrDefaultAsync(cancellationToken);
    }

    public async Task<UpdateResult> UpdateOneAsync(
        FilterDefinition<BackupRecord> filter, UpdateDefinition<BackupRecord> update, CancellationToken cancellationToken)
    {
        await StampKindOnceAsync(cancellationToken);
        return await collection.UpdateOneAsync(Own & filter, update, cancellationToken: cancellationToken);
    }

    public async Task<UpdateResult> UpdateManyAsync(
        FilterDefinition<BackupRecord> filter, UpdateDefinition<BackupRecord> update, CancellationToken cancellationToken)
    {
        await StampKindOnceAsync(cancellationToken);
        return await collection.UpdateManyAsync(Own & filter, update, cancellationToken: cancellationToken);
    }

    public async Task<BackupRecord?> FindOneAndUpdateAsync(
        FilterDefinition<BackupRecord> filter, UpdateDefinition<BackupRecord> update, FindOneAndUpdateOptions<BackupRecord> options,
        CancellationToken cancellationToken)
    {
        await StampKindOnceAsync(cancellationToken);
        return await collection.FindOneAndUpdateAsync(Own & filter, update, options, cancellationToken);
    }

    /// <summary>
    /// Creates the record of <paramref name="snapshotId"/> with <paramref name="insert"/> (<c>$setOnInsert</c>) unless it
    /// exists; returns false when it existed. A foreign document holding that <c>_id</c> is left as it is and reported.
    /// </summary>
    /// <summary>
    /// The index the export runner's sweeps use (by status, oldest first): backups_meta also holds every increment's
    /// record, so without it each sweep would read the whole collection.
    /// </summary>
    public Task EnsureStatusIndexAsync(CancellationToken cancellationToken) =>
        collection.Indexes.CreateOneAsync(
            new CreateIndexModel<BackupRecord>(Builders<BackupRecord>.IndexKeys.Ascending(r => r.Kind).Ascending(r => r.Status).Ascending(r => r.Id)),
            cancellationToken: cancellationToken);

    public async Task<bool> InsertIfMissingAsync(string snapshotId, UpdateDefinition<BackupRecord> insert, CancellationToken cancellationToken)
    {
        await StampKindOnceAsync(cancellationToken);
        var byId = Own & Filter.Eq(r => r.Id, snapshotId);
        try
        {
            var result = await collection.UpdateOneAsync(
                byId, insert.SetOnInsert(r => r.Kind, BackupRecord.SnapshotKind), new UpdateOptions { IsUpsert = true }, cancellationToken);
            return result.UpsertedId is not null;
        }
        catch (MongoWriteException e) when (e.WriteError.Category == ServerErrorCategory.DuplicateKey)
        {
            // Two requests for one snapshot raced and the other created the record; or the _id belongs to a foreign document.
            if (await collection.Find(byId).AnyAsync(cancellationToken))
            {
                return false;
            }

            throw new InvalidOperationException(
                $"backups_meta already holds a document with _id {snapshotId} that is not a TeleGuard record; it was left unchanged.");
        }
    }

    // Records written before `kind` existed get it the first time this process uses backups_meta, so the
    // discriminator alone finds every record. Only documents of exactly their shape are changed.
    private async Task StampKindOnceAsync(CancellationToken cancellationToken)
    {
        if (_kindStamped)
        {
            return;
        }

        var result = await collection.UpdateManyAsync(
            OwnWithoutKind, Builders<BackupRecord>.Update.Set(r => r.Kind, BackupRecord.SnapshotKind), cancellationToken: cancellationToken);
        if (result.ModifiedCount > 0)
        {
            LogKindStamped(logger, result.ModifiedCount, BackupRecord.SnapshotKind);
        }

        _kindStamped = true;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "backups_meta: marked {Count} snapshot records written by an earlier version with kind {Kind}")]
    private static partial void LogKindStamped(ILogger logger, long count, string kind);
}

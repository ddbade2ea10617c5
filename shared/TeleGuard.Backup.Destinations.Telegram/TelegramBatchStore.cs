using MongoDB.Driver;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>The increment batches' records in <c>backups_meta</c>; every query carries their <c>kind</c>, so nothing else is read or changed.</summary>
public sealed class TelegramBatchStore(IMongoDatabase database, TimeProvider time)
{
    private readonly IMongoCollection<TelegramIncrementBatch> _batches = database.GetCollection<TelegramIncrementBatch>(BackupsMetaStore.CollectionName);

    private static FilterDefinitionBuilder<TelegramIncrementBatch> Filter => Builders<TelegramIncrementBatch>.Filter;
    private static UpdateDefinitionBuilder<TelegramIncrementBatch> Update => Builders<TelegramIncrementBatch>.Update;
    private static readonly FilterDefinition<TelegramIncrementBatch> Own = Filter.Eq(b => b.Kind, TelegramIncrementBatch.BatchKind);

    private DateTime Now => time.GetUtcNow().UtcDateTime;

    /// <summary>Creates the batch; false when a batch with its id exists (an earlier attempt created it: continue that one).</summary>
    public async Task<bool> TryInsertAsync(TelegramIncrementBatch batch, CancellationToken cancellationToken)
    {
        try
        {
            await _batches.InsertOneAsync(batch, cancellationToken: cancellationToken);
            return true;
        }
        catch (MongoWriteException e) when (e.WriteError.Category == ServerErrorCategory.DuplicateKey)
        {
            return false;
        }
    }

    public async Task<TelegramIncrementBatch?> GetAsync(string id, CancellationToken cancellationToken) =>
        await _batches.Find(Own & Filter.Eq(b => b.Id, id)).FirstOrDefaultAsync(cancellationToken);

    /// <summary>Batches of the database still being sent, oldest first.</summary>
    public async Task<List<TelegramIncrementBatch>> ListSendingAsync(string databaseName, CancellationToken cancellationToken) =>
        await _batches.Find(Own & Filter.Eq(b => b.Database, databaseName) & Filter.Eq(b => b.Status, TelegramIncrementBatch.Sending))
            .SortBy(b => b.CreatedAt).ThenBy(b => b.Id).ToListAsync(cancellationToken);

    /// <summary>Every batch still being sent, whatever the database (their open intents bound where unrecorded messages may be).</summary>
    public async Task<List<TelegramIncrementBatch>> ListAllSendingAsync(CancellationToken cancellationToken) =>
        await _batches.Find(Own & Filter.Eq(b => b.Status, TelegramIncrementBatch.Sending)).ToListAsync(cancellationToken);

    /// <summary>Sent (or failed) batches whose messages retention has not deleted, oldest first.</summary>
    public async Task<List<TelegramIncrementBatch>> ListKeptAsync(CancellationToken cancellationToken) =>
        await _batches.Find(Own & Filter.In(b => b.Status, [TelegramIncrementBatch.Sent, TelegramIncrementBatch.Failed]) & Filter.Eq(b => b.RemovedAt, null))
            .SortBy(b => b.CreatedAt).ThenBy(b => b.Id).ToListAsync(cancellationToken);

    /// <summary>Batches whose parts are one of these messages.</summary>
    public async Task<List<TelegramIncrementBatch>> ListReferencingAsync(IEnumerable<int> messageIds, CancellationToken cancellationToken) =>
        await _batches.Find(Own & Filter.In(TelegramIncrementBatch.PartMessageIdPath, messageIds)).ToListAsync(cancellationToken);

    /// <summary>The most recently created batches (their message ids are the newest recorded).</summary>
    public async Task<List<TelegramIncrementBatch>> ListRecentAsync(int limit, CancellationToken cancellationToken) =>
        await _batches.Find(Own).SortByDescending(b => b.CreatedAt).Limit(limit).ToListAsync(cancellationToken);

    /// <summary>This instance continues the batch from now on: an earlier sender's later writes no longer land.</summary>
    public Task TakeOverAsync(string id, string owner, CancellationToken cancellationToken) =>
        _batches.UpdateOneAsync(Own & Filter.Eq(b => b.Id, id) & Filter.Eq(b => b.Status, TelegramIncrementBatch.Sending),
            Update.Set(b => b.Owner, owner), cancellationToken: cancellationToken);

    /// <summary>Records where the batch stands, only while <paramref name="owner"/> is still its sender.</summary>
    public async Task<bool> UpdateProgressAsync(string id, string owner, TelegramLocation location, CancellationToken cancellationToken)
    {
        var result = await _batches.UpdateOneAsync(Own & Filter.Eq(b => b.Id, id) & Filter.Eq(b => b.Owner, owner),
            Update.Set(b => b.Location, location), cancellationToken: cancellationToken);
        return result.MatchedCount == 1;
    }

    public Task RecordOrphansAsync(string id, IReadOnlyList<int> messageIds, CancellationToken cancellationToken) =>
        _batches.UpdateOneAsync(Own & Filter.Eq(b => b.Id, id), Update.AddToSetEach(b => b.OrphanMessageIds, messageIds), cancellationToken: cancellationToken);

    /// <summary>Every part is recorded: the batch is sent, at <paramref name="location"/> (only by its sender).</summary>
    public async Task<bool> MarkSentAsync(string id, string owner, TelegramLocation location, CancellationToken cancellationToken)
    {
        var result = await _batches.UpdateOneAsync(Own & Filter.Eq(b => b.Id, id) & Filter.Eq(b => b.Owner, owner),
            Update.Set(b => b.Status, TelegramIncrementBatch.Sent).Set(b => b.SentAt, Now).Set(b => b.Location, location), cancellationToken: cancellationToken);
        return result.MatchedCount == 1;
    }

    /// <summary>The batch holds only these of its increments from now on (the others failed for good); false when <paramref name="owner"/> no longer sends it.</summary>
    public async Task<bool> SetIncrementsAsync(string id, string owner, List<string> incrementIds, CancellationToken cancellationToken)
    {
        var result = await _batches.UpdateOneAsync(SendingBy(id, owner), Update.Set(b => b.IncrementIds, incrementIds), cancellationToken: cancellationToken);
        return result.MatchedCount == 1;
    }

    /// <summary>Counts a failed attempt and keeps its error; returns the failed attempts so far, or null when <paramref name="owner"/> no longer sends the batch.</summary>
    public async Task<int?> RecordFailedAttemptAsync(string id, string owner, string error, CancellationToken cancellationToken)
    {
        var updated = await _batches.FindOneAndUpdateAsync(SendingBy(id, owner), Update.Inc(b => b.FailedAttempts, 1).Set(b => b.Error, error),
            new FindOneAndUpdateOptions<TelegramIncrementBatch> { ReturnDocument = ReturnDocument.After }, cancellationToken);
        return updated?.FailedAttempts;
    }

    /// <summary>The batch will never be sent (only by its sender): it is no longer continued, and retention deletes any part it sent.</summary>
    public Task MarkFailedAsync(string id, string owner, string error, CancellationToken cancellationToken) =>
        _batches.UpdateOneAsync(SendingBy(id, owner), Update.Set(b => b.Status, TelegramIncrementBatch.Failed).Set(b => b.Error, error),
            cancellationToken: cancellationToken);

    // The batch while owner is still sending it.
    private static FilterDefinition<TelegramIncrementBatch> SendingBy(string id, string owner) =>
        Own & Filter.Eq(b => b.Id, id) & Filter.Eq(b => b.Owner, owner) & Filter.Eq(b => b.Status, TelegramIncrementBatch.Sending);

    /// <summary>Records what retention did with the batch's messages.</summary>
    public Task RecordRemovalAsync(string id, TelegramRemoval removal, CancellationToken cancellationToken) =>
        _batches.UpdateOneAsync(Own & Filter.Eq(b => b.Id, id), Update.Set(b => b.RemovedAt, Now).Set(b => b.Removal, removal),
            cancellationToken: cancellationToken);
}

using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Storage;

/// <summary>
/// The change recorder's records in <c>backups_meta</c>: increments and history gaps, each with its own <c>kind</c>, so
/// that they never mix with snapshot records or with documents other programs keep there.
/// </summary>
public sealed partial class IncrementsStore(IMongoDatabase database)
{
    // Majority writes and primary reads: destinations hand increments to each other through these records (one parks,
    // the other records its outcome, each then reads the other's), which holds only if no acknowledged write can be
    // rolled back by a failover or missed by a read from a lagging secondary, whatever MONGODB_URI asks for.
    private readonly IMongoCollection<IncrementRecord> _increments = database.GetCollection<IncrementRecord>(BackupsMetaStore.CollectionName)
        .WithWriteConcern(WriteConcern.WMajority.With(wTimeout: TimeSpan.FromMinutes(1))).WithReadPreference(ReadPreference.Primary);
    private readonly IMongoCollection<HistoryGapRecord> _gaps = database.GetCollection<HistoryGapRecord>(BackupsMetaStore.CollectionName);
    private readonly IMongoCollection<BsonDocument> _chainStarts = database.GetCollection<BsonDocument>(BackupsMetaStore.CollectionName);

    /// <summary>The <c>kind</c> of the record that fixes which snapshot a new chain starts from.</summary>
    public const string ChainStartKind = "teleguard.chainstart";

    private static FilterDefinitionBuilder<IncrementRecord> Increment => Builders<IncrementRecord>.Filter;
    private static FilterDefinitionBuilder<HistoryGapRecord> Gap => Builders<HistoryGapRecord>.Filter;

    private static FilterDefinition<IncrementRecord> OwnIncrements(string databaseName) =>
        Increment.Eq(r => r.Kind, IncrementRecord.IncrementKind) & Increment.Eq(r => r.Database, databaseName);

    /// <summary>
    /// Records a closed increment. Insert only: false when its id is taken, which means another recorder continued
    /// the chain (this one lost its lease and must stop, never overwrite).
    /// </summary>
    public async Task<bool> TryInsertAsync(IncrementRecord record, CancellationToken cancellationToken)
    {
        try
        {
            await _increments.InsertOneAsync(record, cancellationToken: cancellationToken);
            return true;
        }
        catch (MongoWriteException e) when (e.WriteError.Category == ServerErrorCategory.DuplicateKey)
        {
            return false;
        }
    }

    /// <summary>The newest increment of the database (the newest chain's last one).</summary>
    public async Task<IncrementRecord?> FindLatestAsync(string databaseName, CancellationToken cancellationToken) =>
        await _increments.Find(OwnIncrements(databaseName))
            .Sort(Builders<IncrementRecord>.Sort.Descending(r => r.Chain).Descending(r => r.Sequence))
            .Limit(1).FirstOrDefaultAsync(cancellationToken);

    public async Task<IncrementRecord?> GetAsync(string incrementId, CancellationToken cancellationToken) =>
        await _increments.Find(Increment.Eq(r => r.Kind, IncrementRecord.IncrementKind) & Increment.Eq(r => r.Id, incrementId))
            .FirstOrDefaultAsync(cancellationToken);

    /// <summary>Every increment of the database, in chain and sequence order.</summary>
    public async Task<List<IncrementRecord>> ListAsync(string databaseName, CancellationToken cancellationToken) =>
        await _increments.Find(OwnIncrements(databaseName))
            .Sort(Builders<IncrementRecord>.Sort.Ascending(r => r.Chain).Ascending(r => r.Sequence))
            .ToListAsync(cancellationToken);

    /// <summary>The increments of one chain from <paramref name="fromSequence"/> on, in order.</summary>
    public async Task<List<IncrementRecord>> ListChainAsync(string databaseName, string chain, int fromSequence, CancellationToken cancellationToken) =>
        await _increments.Find(OwnIncrements(databaseName) & Increment.Eq(r => r.Chain, chain) & Increment.Gte(r => r.Sequence, fromSequence))
            .Sort(Builders<IncrementRecord>.Sort.Ascending(r => r.Sequence))
            .ToListAsync(cancellationToken);

    /// <summary>
    /// The last increment of the chain before <paramref name="beforeSequence"/> that is not parked at
    /// <paramref name="sink"/>: the one a line of parked increments waits for. (The id range, <c>CHAIN-…</c>, lets the
    /// server use the <c>_id</c> index.)
    /// </summary>
    public async Task<IncrementRecord?> FindLastNotWaitingBeforeAsync(string chain, int beforeSequence, string sink, CancellationToken cancellationToken)
    {
        var filter = Increment.Eq(r => r.Kind, IncrementRecord.IncrementKind)
            & Increment.Gt(r => r.Id, chain + "-") & Increment.Lt(r => r.Id, chain + ".")
            & Increment.Eq(r => r.Chain, chain) & Increment.Lt(r => r.Sequence, beforeSequence)
            & Increment.Ne($"sinks.{sink}.status", SinkStatus.Waiting);
        // Ids order a chain's increments while their sequence has six digits: walking the _id index down from this one
        // stops at the first match. Beyond that, sort by sequence (the whole chain is read).
        return beforeSequence <= MaxIdOrderedSequence
            ? await _increments.Find(filter & Increment.Lt(r => r.Id, IncrementManifest.IdOf(chain, beforeSequence)))
                .Sort(Builders<IncrementRecord>.Sort.Descending(r => r.Id)).Limit(1).FirstOrDefaultAsync(cancellationToken)
            : await _increments.Find(filter).Sort(Builders<IncrementRecord>.Sort.Descending(r => r.Sequence)).Limit(1).FirstOrDefaultAsync(cancellationToken);
    }

    private const int MaxIdOrderedSequence = 999_999;

    /// <summary>Recorded increments of the database not yet announced (the broker was away, or the recorder died first), oldest first.</summary>
    public async Task<List<IncrementRecord>> ListUnannouncedAsync(string databaseName, CancellationToken cancellationToken) =>
        await _increments.Find(OwnIncrements(databaseName) & Increment.Eq(r => r.AnnouncedAt, null))
            .Sort(Builders<IncrementRecord>.Sort.Ascending(r => r.Chain).Ascending(r => r.Sequence))
            .ToListAsync(cancellationToken);

    /// <summary>
    /// Decides, once for all recorders, which snapshot the chain after <paramref name="startKey"/> (a gap's id, or
    /// <c>first</c>) starts from: the first claim wins, later ones get its answer, so that two recorders never start two chains.
    /// </summary>
    public async Task<string> ClaimChainStartAsync(string databaseName, string startKey, string snapshotId, CancellationToken cancellationToken)
    {
        var id = ChainStartId(databaseName, startKey);
        try
        {
            await _chainStarts.InsertOneAsync(new BsonDocument { { "_id", id }, { "kind", ChainStartKind }, { "database", databaseName }, { "chain", snapshotId } },
                cancellationToken: cancellationToken);
            return snapshotId;
        }
        catch (MongoWriteException e) when (e.WriteError.Category == ServerErrorCategory.DuplicateKey)
        {
            return (await FindChainStartAsync(databaseName, startKey, cancellationToken))!;
        }
    }

    /// <summary>The snapshot the chain after <paramref name="startKey"/> was decided to start from, if it was.</summary>
    public async Task<string?> FindChainStartAsync(string databaseName, string startKey, CancellationToken cancellationToken)
    {
        var found = await _chainStarts.Find(new BsonDocument { { "_id", ChainStartId(databaseName, startKey) }, { "kind", ChainStartKind } })
            .FirstOrDefaultAsync(cancellationToken);
        return found?["chain"].AsString;
    }

    /// <summary>
    /// Withdraws the decision that the chain after <paramref name="startKey"/> starts from <paramref name="snapshotId"/>
    /// (only that decision: another one is left alone), so that it is decided again.
    /// </summary>
    public Task ReleaseChainStartAsync(string databaseName, string startKey, string snapshotId, CancellationToken cancellationToken) =>
        _chainStarts.DeleteOneAsync(new BsonDocument { { "_id", ChainStartId(databaseName, startKey) }, { "kind", ChainStartKind }, { "chain", snapshotId } },
            cancellationToken);

    private static string ChainStartId(string databaseName, string startKey) => $"chainstart:{databaseName}:{startKey}";

    /// <summary>
    /// Increments whose artifact is still in the store, that end at or before <paramref name="toAtOrBefore"/>, were
    /// closed before <paramref name="closedBefore"/> and that no destination is copying: what store retention may remove.
    /// </summary>
    public async Task<List<IncrementRecord>> ListRemovableAsync(string databaseName, BsonTimestamp toAtOrBefore, DateTime closedBefore, CancellationToken cancellationToken) =>
        (await _increments.Find(OwnIncrements(databaseName) & Increment.Lte(r => r.To, toAtOrBefore) & Increment.Lt(r => r.ClosedAt, closedBefore)
                & Increment.Eq(r => r.Artifact.DeletedAt, null))
            .Sort(Builders<IncrementRecord>.Sort.Ascending(r => r.Chain).Ascending(r => r.Sequence))
            .ToListAsync(cancellationToken))
        // Not while a destination is still to copy it (a Telegram batch due, a retried commit, one parked for its
        // predecessor): its artifact is the source.
        .Where(r => !r.Sinks.Values.Any(s => s.Status is SinkStatus.Running or SinkStatus.Waiting))
        .ToList();

    public Task MarkArtifactDeletedAsync(string incrementId, DateTime at, CancellationToken cancellationToken) =>
        _increments.UpdateOneAsync(
            Increment.Eq(r => r.Kind, IncrementRecord.IncrementKind) & Increment.Eq(r => r.Id, incrementId),
            Builders<IncrementRecord>.Update.Set(r => r.Artifact.DeletedAt, at), cancellationToken: cancellationToken);

    public Task MarkAnnouncedAsync(string incrementId, DateTime at, CancellationToken cancellationToken) =>
        _increments.UpdateOneAsync(
            Increment.Eq(r => r.Kind, IncrementRecord.IncrementKind) & Increment.Eq(r => r.Id, incrementId),
            Builders<IncrementRecord>.Update.Set(r => r.AnnouncedAt, at), cancellationToken: cancellationToken);

    /// <summary>A destination starts (or retries) copying an increment: status running, attempts + 1.</summary>
    public Task RecordSinkAttemptAsync(string incrementId, string sink, DateTime at, CancellationToken cancellationToken) =>
        _increments.UpdateOneAsync(
            ById(incrementId) & Increment.Ne($"sinks.{sink}.status", SinkStatus.Succeeded),
            Builders<IncrementRecord>.Update.Set($"sinks.{sink}.status", SinkStatus.Running).Set($"sinks.{sink}.at", at)
                .Set($"sinks.{sink}.startedAt", at).Inc($"sinks.{sink}.attempts", 1),
            cancellationToken: cancellationToken);

    /// <summary>
    /// A destination's outcome for an increment (<c>succeeded</c>, <c>failed</c> or <c>skipped</c>) and where its copy is;
    /// a recorded success is never overwritten. <paramref name="error"/> must hold no secret.
    /// </summary>
    public Task RecordSinkOutcomeAsync(string incrementId, string sink, string status, string? error, SinkLocation? location, DateTime at,
        CancellationToken cancellationToken)
    {
        if (!SinkStatus.IsFinal(status))
        {
            throw new ArgumentOutOfRangeException(nameof(status), status, "A sink outcome is succeeded, failed or skipped.");
        }

        // The first success stands: a second copy running at the same time (a redelivery racing a wake-up) finds the
        // increment already on the branch and knows less about it (no size, no hash).
        var filter = ById(incrementId) & Increment.Ne($"sinks.{sink}.status", SinkStatus.Succeeded);
        var update = Builders<IncrementRecord>.Update.Set($"sinks.{sink}.status", status).Set($"sinks.{sink}.at", at);
        update = error is null ? update.Unset($"sinks.{sink}.error") : update.Set($"sinks.{sink}.error", error);
        update = location is null ? update : update.Set($"sinks.{sink}.location", location.ToBsonDocument());
        return _increments.UpdateOneAsync(filter, update, cancellationToken: cancellationToken);
    }

    /// <summary>
    /// Parks an increment at a destination until its predecessor there has an outcome: status <c>waiting</c>, why, and
    /// since when (kept from the first time it parked).
    /// </summary>
    public Task RecordSinkWaitingAsync(string incrementId, string sink, string reason, DateTime at, CancellationToken cancellationToken) =>
        _increments.UpdateOneAsync(ById(incrementId) & Increment.Ne($"sinks.{sink}.status", SinkStatus.Succeeded),
            Builders<IncrementRecord>.Update.Set($"sinks.{sink}.status", SinkStatus.Waiting).Set($"sinks.{sink}.error", reason)
                .Set($"sinks.{sink}.at", at).Min($"sinks.{sink}.waitingSince", at).Unset($"sinks.{sink}.wokenAt"),
            cancellationToken: cancellationToken);

    /// <summary>
    /// Claims the wake-up of an increment parked at <paramref name="sink"/>: true for the one caller that may send it
    /// again now (none has since it parked, or the last claim is older than <paramref name="claimedBefore"/>, its send lost).
    /// </summary>
    public async Task<bool> TryClaimWakeAsync(string incrementId, string sink, DateTime at, DateTime claimedBefore, CancellationToken cancellationToken) =>
        (await _increments.UpdateOneAsync(
            ById(incrementId) & Increment.Eq($"sinks.{sink}.status", SinkStatus.Waiting)
                & (Increment.Exists($"sinks.{sink}.wokenAt", false) | Increment.Lt($"sinks.{sink}.wokenAt", claimedBefore)),
            Builders<IncrementRecord>.Update.Set($"sinks.{sink}.wokenAt", at), cancellationToken: cancellationToken)).ModifiedCount == 1;

    /// <summary>
    /// Claims announcing an increment to <paramref name="sink"/> again (others wait for it there and it shows no
    /// progress): true for the one caller that may send it now, at most once per <paramref name="claimedBefore"/> period.
    /// </summary>
    public async Task<bool> TryClaimAnnouncementAgainAsync(string incrementId, string sink, DateTime at, DateTime claimedBefore, CancellationToken cancellationToken) =>
        (await _increments.UpdateOneAsync(
            ById(incrementId) & Increment.Nin($"sinks.{sink}.status", [SinkStatus.Succeeded, SinkStatus.Failed, SinkStatus.Skipped])
                & (Increment.Exists($"sinks.{sink}.announcedAgainAt", false) | Increment.Lt($"sinks.{sink}.announcedAgainAt", claimedBefore)),
            Builders<IncrementRecord>.Update.Set($"sinks.{sink}.announcedAgainAt", at), cancellationToken: cancellationToken)).ModifiedCount == 1;

    /// <summary>A failed attempt that will be retried: the error is kept, the status stays <c>running</c>.</summary>
    public Task RecordSinkErrorAsync(string incrementId, string sink, string error, CancellationToken cancellationToken) =>
        _increments.UpdateOneAsync(ById(incrementId) & Increment.Ne($"sinks.{sink}.status", SinkStatus.Succeeded),
            Builders<IncrementRecord>.Update.Set($"sinks.{sink}.error", error), cancellationToken: cancellationToken);

    private static FilterDefinition<IncrementRecord> ById(string incrementId) =>
        Increment.Eq(r => r.Kind, IncrementRecord.IncrementKind) & Increment.Eq(r => r.Id, incrementId);

    /// <summary>Records a gap once (a second recorder detecting the same gap changes nothing); returns the stored record.</summary>
    public async Task<HistoryGapRecord> RecordGapAsync(HistoryGapRecord gap, CancellationToken cancellationToken)
    {
        var filter = Gap.Eq(g => g.Kind, HistoryGapRecord.GapKind) & Gap.Eq(g => g.Id, gap.Id);
        try
        {
            await _gaps.InsertOneAsync(gap, cancellationToken: cancellationToken);
            return gap;
        }
        catch (MongoWriteException e) when (e.WriteError.Category == ServerErrorCategory.DuplicateKey)
        {
            return await _gaps.Find(filter).FirstAsync(cancellationToken);
        }
    }

    public async Task<HistoryGapRecord?> FindGapAsync(string gapId, CancellationToken cancellationToken) =>
        await _gaps.Find(Gap.Eq(g => g.Kind, HistoryGapRecord.GapKind) & Gap.Eq(g => g.Id, gapId)).FirstOrDefaultAsync(cancellationToken);

    public Task SetGapSnapshotAsync(string gapId, string snapshotId, CancellationToken cancellationToken) =>
        _gaps.UpdateOneAsync(Gap.Eq(g => g.Kind, HistoryGapRecord.GapKind) & Gap.Eq(g => g.Id, gapId),
            Builders<HistoryGapRecord>.Update.Set(g => g.RequestedSnapshotId, snapshotId), cancellationToken: cancellationToken);

    public Task MarkGapAlertedAsync(string gapId, DateTime at, CancellationToken cancellationToken) =>
        _gaps.UpdateOneAsync(Gap.Eq(g => g.Kind, HistoryGapRecord.GapKind) & Gap.Eq(g => g.Id, gapId),
            Builders<HistoryGapRecord>.Update.Set(g => g.AlertedAt, at), cancellationToken: cancellationToken);

    public Task SetGapNextChainAsync(string gapId, string chain, CancellationToken cancellationToken) =>
        _gaps.UpdateOneAsync(Gap.Eq(g => g.Kind, HistoryGapRecord.GapKind) & Gap.Eq(g => g.Id, gapId),
            Builders<HistoryGapRecord>.Update.Set(g => g.NextChain, chain), cancellationToken: cancellationToken);

    /// <summary>Every gap of the database, oldest first.</summary>
    public async Task<List<HistoryGapRecord>> ListGapsAsync(string databaseName, CancellationToken cancellationToken) =>
        await _gaps.Find(Gap.Eq(g => g.Kind, HistoryGapRecord.GapKind) & Gap.Eq(g => g.Database, databaseName))
            .Sort(Builders<HistoryGapRecord>.Sort.Ascending(g => g.DetectedAt))
            .ToListAsync(cancellationToken);
}

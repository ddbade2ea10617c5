using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Storage;

/// <summary>
/// <c>backups_meta</c>: one document per snapshot (<c>_id</c> = snapshot id, <c>kind</c> = <c>teleguard.snapshot</c>);
/// documents of other kinds in the collection are never read or changed (<see cref="OwnBackupRecords"/>). Every write is an idempotent upsert or a
/// conditional update keyed by snapshot id (and sink), so redelivered messages converge to the same document.
/// With a <see cref="BackupsMetaFallback"/>, a sink's results (outcome, retry error, location) that cannot reach
/// MongoDB wait in Redis and are replayed, in order, before the next read or write of this store and by
/// <see cref="BackupsMetaReplayService"/>.
/// </summary>
public sealed partial class BackupsMetaStore : IDisposable
{
    public const string CollectionName = "backups_meta";

    private readonly OwnBackupRecords _records;
    private readonly IReadOnlyList<string> _expectedSinks;
    private readonly TimeProvider _time;
    private readonly BackupsMetaFallback? _fallback;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _replayGate = new(1, 1);

    public BackupsMetaStore(IMongoDatabase database, TimeProvider time, IReadOnlyList<string>? expectedSinks = null,
        BackupsMetaFallback? fallback = null, ILogger<BackupsMetaStore>? logger = null)
    {
        _expectedSinks = expectedSinks ?? BackupSinks.All;
        _time = time;
        _fallback = fallback;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _records = new OwnBackupRecords(database.GetCollection<BackupRecord>(CollectionName), _logger);
    }

    public void Dispose() => _replayGate.Dispose();

    private DateTime Now => _time.GetUtcNow().UtcDateTime;

    private static FilterDefinitionBuilder<BackupRecord> Filter => Builders<BackupRecord>.Filter;
    private static UpdateDefinitionBuilder<BackupRecord> Update => Builders<BackupRecord>.Update;
    private static SortDefinitionBuilder<BackupRecord> Sort => Builders<BackupRecord>.Sort;

    /// <summary>Creates the record if it does not exist; a second request for the same id changes nothing.</summary>
    public Task RecordRequestedAsync(string snapshotId, DateTimeOffset requestedAt, string reason, CancellationToken cancellationToken) =>
        _records.InsertIfMissingAsync(
            snapshotId,
            Update.SetOnInsert(r => r.Status, BackupStatus.Requested)
                .SetOnInsert(r => r.RequestedAt, requestedAt.UtcDateTime)
                .SetOnInsert(r => r.Reason, reason)
                .SetOnInsert(r => r.Sinks, new Dictionary<string, SinkRecord>())
                .SetOnInsert(r => r.UpdatedAt, Now),
            cancellationToken);

    /// <summary>
    /// Takes the export lease for a snapshot that is requested (also after a failed attempt that will be retried) or
    /// exporting under an expired lease (its exporter died). The lease is renewed while exporting; the artifact is
    /// recorded only by the lease holder. A snapshot whose export concluded is never claimed again: with an artifact it
    /// is <see cref="ExportClaim.AlreadyCreated"/> (whatever the sinks made of it), without one <see cref="ExportClaim.Refused"/>.
    /// </summary>
    public async Task<(ExportClaim Claim, BackupRecord? Record)> TryClaimExportAsync(
        string snapshotId, string owner, TimeSpan lease, CancellationToken cancellationToken)
    {
        var now = Now;
        var claimable = Filter.Eq(r => r.Id, snapshotId) & Filter.Or(
            Filter.Eq(r => r.Status, BackupStatus.Requested),
            Filter.Eq(r => r.Status, BackupStatus.Exporting) & Filter.Or(
                Filter.Eq(r => r.Export!.Owner, owner),
                Filter.Lt(r => r.Export!.LeaseUntil, now)));
        var claimed = await _records.FindOneAndUpdateAsync(
            claimable,
            Update.Set(r => r.Status, BackupStatus.Exporting)
                .Set(r => r.Export!.Owner, owner)
                .Set(r => r.Export!.LeaseUntil, now + lease)
                .Set(r => r.Export!.StartedAt, now)
                .Inc(r => r.Export!.Attempts, 1)
                .Set(r => r.UpdatedAt, now)
                .Unset(r => r.Error),
            new FindOneAndUpdateOptions<BackupRecord> { ReturnDocument = ReturnDocument.After },
            cancellationToken);
        if (claimed is not null)
        {
            return (ExportClaim.Acquired, claimed);
        }

        var current = await LoadAsync(snapshotId, cancellationToken);
        return current?.Status switch
        {
            BackupStatus.Created or BackupStatus.Complete or BackupStatus.Degraded => (ExportClaim.AlreadyCreated, current),
            BackupStatus.Failed when current.Artifact is not null => (ExportClaim.AlreadyCreated, current),
            BackupStatus.Failed => (ExportClaim.Refused, current),
            _ => (ExportClaim.HeldElsewhere, current),
        };
    }

    /// <summary>
    /// Notes that the snapshot service accepted the request of a snapshot that is still to be exported (status
    /// <c>requested</c>): from now on its export runner finds it here, and the request message is no longer needed.
    /// </summary>
    public async Task<bool> MarkExportQueuedAsync(string snapshotId, CancellationToken cancellationToken)
    {
        var now = Now;
        var result = await _records.UpdateOneAsync(
            Filter.Eq(r => r.Id, snapshotId) & Filter.Eq(r => r.Status, BackupStatus.Requested),
            Update.Set(r => r.Export!.QueuedAt, now).Set(r => r.UpdatedAt, now),
            cancellationToken: cancellationToken);
        return result.MatchedCount == 1;
    }

    /// <summary>
    /// The oldest export to run now: accepted or retried (<c>requested</c> with an export state) and not held, or
    /// <c>exporting</c> under a lease that expired (its exporter died or was stopped without giving it back).
    /// Requested records without an export state (a sink's record of an announcement, a request not yet accepted)
    /// are not exports to run.
    /// </summary>
    public Task<BackupRecord?> FindExportToRunAsync(CancellationToken cancellationToken) => FindExportToRunAsync(null, null, cancellationToken);

    /// <param name="onlyIds">Only these snapshots (null: any).</param>
    /// <param name="after">Only snapshots after this id (a sweep goes on past a record it could not take).</param>
    public async Task<BackupRecord?> FindExportToRunAsync(IReadOnlyCollection<string>? onlyIds, string? after, CancellationToken cancellationToken)
    {
        if (onlyIds is { Count: 0 })
        {
            return null;
        }

        var now = Now;
        var filter = Filter.Or(
            Filter.Eq(r => r.Status, BackupStatus.Requested) & Filter.Ne(r => r.Export, null),
            Filter.Eq(r => r.Status, BackupStatus.Exporting) & Filter.Lt(r => r.Export!.LeaseUntil, now));
        if (onlyIds is not null)
        {
            filter &= Filter.In(r => r.Id, onlyIds);
        }

        if (after is not null)
        {
            filter &= Filter.Gt(r => r.Id, after);
        }

        return await _records.FindFirstAsync(filter, Sort.Ascending(r => r.Id), cancellationToken);
    }

    /// <summary>Creates (if missing) the index the export runner's sweeps read by.</summary>
    public Task EnsureStatusIndexAsync(CancellationToken cancellationToken) => _records.EnsureStatusIndexAsync(cancellationToken);

    /// <summary>
    /// Gives the lease back without counting the attempt (the exporter is shutting down): the snapshot is requested
    /// again and the next runner resumes it.
    /// </summary>
    public async Task<bool> ReleaseExportAsync(string snapshotId, string owner, CancellationToken cancellationToken)
    {
        var result = await _records.UpdateOneAsync(
            HeldBy(snapshotId, owner),
            Update.Set(r => r.Status, BackupStatus.Requested)
                .Set(r => r.UpdatedAt, Now)
                .Inc(r => r.Export!.Attempts, -1)
                .Unset(r => r.Export!.LeaseUntil),
            cancellationToken: cancellationToken);
        return result.MatchedCount == 1;
    }

    /// <summary>
    /// A failed snapshot whose artifact is still in the store is announced again (its sinks retry): it goes back to
    /// <c>created</c> until their outcomes decide it anew. False when it is not such a snapshot (any more).
    /// </summary>
    public async Task<bool> MarkReannouncedAsync(string snapshotId, CancellationToken cancellationToken)
    {
        var now = Now;
        var result = await _records.UpdateOneAsync(
            Filter.Eq(r => r.Id, snapshotId) & Filter.Eq(r => r.Status, BackupStatus.Failed)
            & Filter.Ne(r => r.Artifact, null) & Filter.Eq(r => r.Artifact!.DeletedAt, null),
            Update.Set(r => r.Status, BackupStatus.Created).Set(r => r.AnnouncedAt, now).Set(r => r.UpdatedAt, now),
            cancellationToken: cancellationToken);
        return result.MatchedCount == 1;
    }

    /// <summary>Extends the lease; false when it was lost (another exporter took over), and the caller must stop.</summary>
    public async Task<bool> RenewExportLeaseAsync(string snapshotId, string owner, TimeSpan lease, CancellationToken cancellationToken)
    {
        var result = await _records.UpdateOneAsync(
            HeldBy(snapshotId, owner),
            Update.Set(r => r.Export!.LeaseUntil, Now + lease),
            cancellationToken: cancellationToken);
        return result.MatchedCount == 1;
    }

    /// <summary>Records the finished artifact. Only the lease holder can; returns false if the lease was lost.</summary>
    public async Task<bool> MarkCreatedAsync(
        string snapshotId, string owner, ArtifactRecord artifact, SnapshotManifest manifest, CancellationToken cancellationToken)
    {
        var summary = new ManifestSummary
        {
            FormatVersion = manifest.FormatVersion,
            Consistency = manifest.Consistency.Mode,
            ConsistencyReason = manifest.Consistency.Reason,
            ClusterTime = manifest.Consistency.ClusterTime is { } t ? new BsonTimestamp((int)t.T, (int)t.I) : null,
            DataTime = manifest.DataTime.UtcDateTime,
            Documents = manifest.TotalDocuments,
            Bytes = manifest.TotalBytes,
            Collections = manifest.Collections
                .Select(c => new CollectionSummary { Name = c.Name, Documents = c.Documents, Bytes = c.Bytes, Sha256 = c.Sha256 })
                .ToList(),
            Skipped = manifest.Skipped.Select(s => new SkippedCollectionSummary { Name = s.Name, Type = s.Type, Reason = s.Reason }).ToList(),
        };
        var now = Now;
        var result = await _records.UpdateOneAsync(
            HeldBy(snapshotId, owner),
            Update.Set(r => r.Status, BackupStatus.Created)
                .Set(r => r.CreatedAt, now)
                .Set(r => r.UpdatedAt, now)
                .Set(r => r.Artifact, artifact)
                .Set(r => r.Manifest, summary)
                .Unset(r => r.Export!.LeaseUntil),
            cancellationToken: cancellationToken);
        if (result.MatchedCount != 1)
        {
            return false;
        }

        await RefreshStatusAsync(snapshotId, cancellationToken);
        return true;
    }

    /// <summary>
    /// Takes the announcement of a snapshot the export runner recorded but never announced (its exporter died, or its
    /// publish failed, in between) at least <paramref name="grace"/> ago, for <paramref name="grace"/>: one instance
    /// announces it and then marks it announced (<see cref="MarkAnnouncedAsync"/>). A claimant that dies before
    /// publishing (or fails to) leaves it to the next sweep after the claim runs out, so the announcement is never lost (at worst it
    /// goes out twice, which the destinations take as a redelivery). Null when there is none.
    /// </summary>
    public async Task<BackupRecord?> TryClaimUnannouncedAsync(TimeSpan grace, CancellationToken cancellationToken)
    {
        var now = Now;
        return await _records.FindOneAndUpdateAsync(
            Filter.Eq(r => r.Status, BackupStatus.Created) & Filter.Eq(r => r.AnnouncedAt, null) & Filter.Ne(r => r.Artifact, null)
            & Filter.Ne(r => r.Export!.QueuedAt, null) & Filter.Lt(r => r.CreatedAt, now - grace)
            & (Filter.Eq(r => r.AnnounceClaimedUntil, null) | Filter.Lt(r => r.AnnounceClaimedUntil, now)),
            Update.Set(r => r.AnnounceClaimedUntil, now + grace),
            new FindOneAndUpdateOptions<BackupRecord> { ReturnDocument = ReturnDocument.After, Sort = Sort.Ascending(r => r.Id) },
            cancellationToken);
    }

    /// <summary>Notes that SnapshotCreated went out, so a repeated request does not announce the snapshot again.</summary>
    public Task MarkAnnouncedAsync(string snapshotId, CancellationToken cancellationToken) =>
        _records.UpdateOneAsync(Filter.Eq(r => r.Id, snapshotId), Update.Set(r => r.AnnouncedAt, Now), cancellationToken: cancellationToken);

    /// <summary>
    /// Records a failed export attempt and releases the lease. A failure that will be retried puts the snapshot back to
    /// <c>requested</c> (with the error kept); only the final attempt marks it <c>failed</c>.
    /// </summary>
    public Task MarkExportFailedAsync(string snapshotId, string owner, string error, bool finalAttempt, CancellationToken cancellationToken) =>
        _records.UpdateOneAsync(
            HeldBy(snapshotId, owner),
            Update.Set(r => r.Status, finalAttempt ? BackupStatus.Failed : BackupStatus.Requested)
                .Set(r => r.Error, error)
                .Set(r => r.UpdatedAt, Now)
                .Unset(r => r.Export!.LeaseUntil),
            cancellationToken: cancellationToken);

    /// <summary>
    /// A sink starts (or retries) its work on a snapshot: takes the sink's lease on it (status running, attempts + 1)
    /// unless the copy is already made or another instance holds an unexpired lease. The lease ends with the outcome or
    /// the retry error; a crashed holder's lease expires.
    /// </summary>
    public async Task<SinkClaim> TryClaimSinkAsync(string snapshotId, string sink, string owner, TimeSpan lease, CancellationToken cancellationToken)
    {
        await ReplayPendingAsync(cancellationToken);
        var now = Now;
        var path = $"sinks.{sink}";
        var claimable = Filter.Eq(r => r.Id, snapshotId) & Filter.Ne($"{path}.status", SinkStatus.Succeeded) & Filter.Or(
            Filter.Exists($"{path}.owner", false), Filter.Eq($"{path}.owner", owner), Filter.Lt($"{path}.leaseUntil", now));
        var result = await _records.UpdateOneAsync(
            claimable,
            Update.Set($"{path}.status", SinkStatus.Running)
                .Set($"{path}.at", now)
                .Set($"{path}.startedAt", now)
                .Set($"{path}.owner", owner)
                .Set($"{path}.leaseUntil", now + lease)
                .Inc($"{path}.attempts", 1),
            cancellationToken: cancellationToken);
        if (result.MatchedCount == 1)
        {
            // A copy that retention removed is gone: this attempt starts a new one and never reuses what was removed.
            await _records.UpdateOneAsync(
                Filter.Eq(r => r.Id, snapshotId) & Filter.Eq($"{path}.owner", owner) & Filter.Exists($"{path}.removedAt", true),
                Update.Unset($"{path}.location").Unset($"{path}.removedAt").Unset($"{path}.removal").Unset($"{path}.orphanMessageIds"),
                cancellationToken: cancellationToken);
            return SinkClaim.Acquired;
        }

        var record = await LoadAsync(snapshotId, cancellationToken);
        return record is null ? SinkClaim.NoRecord
            : record.Sinks.GetValueOrDefault(sink)?.Status == SinkStatus.Succeeded ? SinkClaim.AlreadySucceeded
            : SinkClaim.HeldElsewhere;
    }

    /// <summary>Extends the sink's lease while it works; false when it is no longer this owner's.</summary>
    public async Task<bool> RenewSinkLeaseAsync(string snapshotId, string sink, string owner, TimeSpan lease, CancellationToken cancellationToken)
    {
        var result = await _records.UpdateOneAsync(
            Filter.Eq(r => r.Id, snapshotId) & Filter.Eq($"sinks.{sink}.owner", owner),
            Update.Set($"sinks.{sink}.leaseUntil", Now + lease),
            cancellationToken: cancellationToken);
        return result.MatchedCount == 1;
    }

    /// <summary>
    /// Replaces where the sink's copy is while it is being made, only if <paramref name="owner"/> still holds the sink's
    /// lease: false when another instance took the copy over (the caller stops and must not leave anything behind).
    /// While MongoDB is unreachable the write waits in Redis like every sink result, and the caller goes on.
    /// </summary>
    public async Task<bool> UpdateSinkProgressAsync(string snapshotId, string sink, string owner, SinkLocation location, CancellationToken cancellationToken)
    {
        if (await ReplayPendingAsync(cancellationToken))
        {
            try
            {
                var result = await _records.UpdateOneAsync(
                    Filter.Eq(r => r.Id, snapshotId) & Filter.Eq($"sinks.{sink}.owner", owner),
                    Update.Set($"sinks.{sink}.location", location.ToBsonDocument()).Set(r => r.UpdatedAt, Now),
                    cancellationToken: cancellationToken);
                return result.MatchedCount == 1;
            }
            catch (Exception e) when (_fallback is not null && MongoFaults.IsUnreachable(e))
            {
                // Deferred below.
            }
        }

        await UpdateSinkLocationAsync(snapshotId, sink, location, cancellationToken);
        return true;
    }

    /// <summary>
    /// Notes messages a sink left in its destination outside its copy (sent by an attempt that lost its lease and
    /// could not delete them): retention deletes them with the snapshot's copy.
    /// </summary>
    public Task RecordSinkOrphansAsync(string snapshotId, string sink, IReadOnlyList<int> messageIds, CancellationToken cancellationToken) =>
        _records.UpdateOneAsync(
            Filter.Eq(r => r.Id, snapshotId),
            Update.AddToSetEach($"sinks.{sink}.orphanMessageIds", messageIds).Set(r => r.UpdatedAt, Now),
            cancellationToken: cancellationToken);

    /// <summary>
    /// Records a sink's outcome (<c>succeeded</c>, <c>failed</c> or <c>skipped</c>) and where its copy is, then updates
    /// the snapshot's overall status. A recorded success is never overwritten by a later failure.
    /// </summary>
    public Task RecordSinkOutcomeAsync(
        string snapshotId, string sink, string status, string? error, SinkLocation? location, CancellationToken cancellationToken)
    {
        if (!SinkStatus.IsFinal(status))
        {
            throw new ArgumentOutOfRangeException(nameof(status), status, "A sink outcome is succeeded, failed or skipped.");
        }

        return WriteOrDeferAsync(new PendingMetaWrite(PendingMetaWrite.Outcome, snapshotId, sink, Now, status, error, location?.ToBsonDocument()), cancellationToken);
    }

    /// <summary>A failed sink attempt that will be retried: the error is kept, the status stays <c>running</c>, the lease ends.</summary>
    public Task RecordSinkErrorAsync(string snapshotId, string sink, string error, CancellationToken cancellationToken) =>
        WriteOrDeferAsync(new PendingMetaWrite(PendingMetaWrite.RetryError, snapshotId, sink, Now, null, error, null), cancellationToken);

    /// <summary>Replaces where a sink's copy of a snapshot is (parts sent so far, a commit that was replayed or compacted).</summary>
    public Task UpdateSinkLocationAsync(string snapshotId, string sink, SinkLocation location, CancellationToken cancellationToken) =>
        WriteOrDeferAsync(new PendingMetaWrite(PendingMetaWrite.SinkLocation, snapshotId, sink, Now, null, null, location.ToBsonDocument()), cancellationToken);

    // Every result write is conditional on the record holding nothing newer for the sink: `writtenAt` is the time of
    // the newest result applied (from the clock of the process that made it), so a replayed, late or repeated write
    // never rewinds the record. A success is the one exception: it is recorded over a newer failure (the copy exists,
    // and retention must know it), never over a newer success; and a success is never overwritten by a failure.
    private async Task ApplyAsync(PendingMetaWrite write, CancellationToken cancellationToken)
    {
        var path = $"sinks.{write.Sink}";
        var version = $"{path}.writtenAt";
        var record = Filter.Eq(r => r.Id, write.SnapshotId);
        var notNewer = Filter.Or(Filter.Exists(version, false), Filter.Lte(version, write.At));
        var notSucceeded = Filter.Ne($"{path}.status", SinkStatus.Succeeded);
        var written = Update.Max(version, write.At);
        switch (write.Kind)
        {
            case PendingMetaWrite.Outcome:
                var filter = write.Status == SinkStatus.Succeeded ? record & (notSucceeded | notNewer) : record & notNewer & notSucceeded;
                var update = written.Set($"{path}.status", write.Status)
                    .Set($"{path}.at", write.At)
                    .Set(r => r.UpdatedAt, write.At)
                    .Unset($"{path}.owner")
                    .Unset($"{path}.leaseUntil");
                update = write.Error is null ? update.Unset($"{path}.error") : update.Set($"{path}.error", write.Error);
                if (write.Location is not null)
                {
                    update = update.Set($"{path}.location", write.Location);
                }

                await _records.UpdateOneAsync(filter, update, cancellationToken: cancellationToken);
                await RefreshStatusAsync(write.SnapshotId, cancellationToken);
                break;
            case PendingMetaWrite.RetryError:
                await _records.UpdateOneAsync(
                    record & notNewer & notSucceeded,
                    written.Set($"{path}.error", write.Error).Set($"{path}.at", write.At).Unset($"{path}.owner").Unset($"{path}.leaseUntil"),
                    cancellationToken: cancellationToken);
                break;
            case PendingMetaWrite.SinkLocation:
                await _records.UpdateOneAsync(
                    record & notNewer,
                    written.Set($"{path}.location", write.Location).Set(r => r.UpdatedAt, write.At),
                    cancellationToken: cancellationToken);
                break;
            default:
                throw new InvalidDataException($"Unknown pending backups_meta write '{write.Kind}'.");
        }
    }

    private async Task WriteOrDeferAsync(PendingMetaWrite write, CancellationToken cancellationToken)
    {
        // Older deferred writes go first, so the record ends in the order things happened.
        if (!await ReplayPendingAsync(cancellationToken))
        {
            await DeferAsync(write, "older results are still waiting to be written");
            return;
        }

        try
        {
            await ApplyAsync(write, cancellationToken);
        }
        catch (Exception e) when (_fallback is not null && MongoFaults.IsUnreachable(e))
        {
            await DeferAsync(write, e.GetType().Name);
        }
    }

    private async Task DeferAsync(PendingMetaWrite write, string why)
    {
        await _fallback!.AppendAsync(write, CancellationToken.None);
        LogWriteDeferred(_logger, why, write.Sink, write.Kind, write.SnapshotId);
    }

    /// <summary>
    /// Writes the results waiting in Redis into MongoDB. Returns false when some are still waiting (MongoDB unreachable,
    /// or an error that does not prove the write invalid: the entry stays for the next try), true otherwise (also when
    /// there is no fallback or Redis is unreachable).
    /// </summary>
    public async Task<bool> ReplayPendingAsync(CancellationToken cancellationToken)
    {
        // Waits for a replay already running in this process: a caller that reads (retention, compaction) must see every
        // result it applies. Applying never replays again, so this cannot wait for itself.
        if (_fallback is null)
        {
            return true;
        }

        await _replayGate.WaitAsync(cancellationToken);

        try
        {
            var applied = await _fallback.ReplayAsync(async (write, token) =>
            {
                try
                {
                    await ApplyAsync(write, token);
                    return true;
                }
                catch (Exception e) when (MongoFaults.IsRefusal(e))
                {
                    // Retrying cannot help, and it must not block the writes behind it: kept aside, not lost.
                    LogPendingWriteRefused(_logger, write.Sink, write.Kind, write.SnapshotId, _fallback.RefusedKey.ToString(), e.Message);
                    return false;
                }
            }, cancellationToken);
            if (applied > 0)
            {
                LogPendingWritesReplayed(_logger, applied);
            }

            return true;
        }
        catch (RedisUnavailableException)
        {
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            if (!MongoFaults.IsUnreachable(e))
            {
                LogReplayFailed(_logger, e.Message);
            }

            return false;
        }
        finally
        {
            _replayGate.Release();
        }
    }

    /// <summary>Results waiting in Redis for MongoDB (what <c>status</c> shows while backups_meta is unreachable).</summary>
    public Task<IReadOnlyList<PendingMetaWrite>> ListPendingAsync(CancellationToken cancellationToken) =>
        _fallback is null ? Task.FromResult<IReadOnlyList<PendingMetaWrite>>([]) : _fallback.ListAsync(cancellationToken);

    // Retention removes only copies whose outcome is final (succeeded or failed) and that no one holds: not a copy being
    // made or retried (its sink's lease), and not one another cleanup is removing (the same lease, taken by retention).

    private FilterDefinition<BackupRecord> RemovableCopy(string sink) =>
        Filter.In($"sinks.{sink}.status", new[] { SinkStatus.Succeeded, SinkStatus.Failed })
        & Filter.Exists($"sinks.{sink}.removedAt", false)
        & Filter.Or(Filter.Exists($"sinks.{sink}.owner", false), Filter.Lt($"sinks.{sink}.leaseUntil", Now));

    /// <summary>Marks the sink's succeeded copies of snapshots older than <paramref name="keptSnapshotId"/> as removed by retention (not those held by an instance).</summary>
    public Task MarkSinkCopiesRemovedAsync(string sink, string keptSnapshotId, CancellationToken cancellationToken) =>
        _records.UpdateManyAsync(
            Filter.Lt(r => r.Id, keptSnapshotId) & Filter.Eq($"sinks.{sink}.status", SinkStatus.Succeeded) & RemovableCopy(sink),
            Update.Set($"sinks.{sink}.removedAt", Now),
            cancellationToken: cancellationToken);

    /// <summary>Marks one snapshot's copy in <paramref name="sink"/> as removed by retention, unless it is not final or an instance holds it.</summary>
    public Task MarkSinkCopyRemovedAsync(string snapshotId, string sink, CancellationToken cancellationToken) =>
        _records.UpdateOneAsync(
            Filter.Eq(r => r.Id, snapshotId) & RemovableCopy(sink),
            Update.Set($"sinks.{sink}.removedAt", Now),
            cancellationToken: cancellationToken);

    /// <summary>
    /// Snapshots older than <paramref name="beforeSnapshotId"/> whose copy in <paramref name="sink"/> exists (fully or in
    /// part), has a final outcome, is held by no instance and was not removed.
    /// </summary>
    public async Task<List<BackupRecord>> ListSinkCopiesBeforeAsync(string sink, string beforeSnapshotId, CancellationToken cancellationToken) =>
        await _records.FindAsync(
            Filter.Lt(r => r.Id, beforeSnapshotId) & Filter.Exists($"sinks.{sink}.location", true)
            & Filter.Ne($"sinks.{sink}.location._csharpnull", true) & RemovableCopy(sink), // a null written by earlier versions is no copy
            Sort.Ascending(r => r.Id), limit: null, cancellationToken);

    /// <summary>Snapshots whose copy in <paramref name="sink"/> is being made or retried (status <c>running</c>), oldest first.</summary>
    public async Task<List<BackupRecord>> ListSinkCopiesInProgressAsync(string sink, CancellationToken cancellationToken)
    {
        await ReplayPendingAsync(cancellationToken);
        return await _records.FindAsync(Filter.Eq($"sinks.{sink}.status", SinkStatus.Running), Sort.Ascending(r => r.Id), limit: null, cancellationToken);
    }

    /// <summary>Snapshots whose copy in <paramref name="sink"/> an instance is making right now (running, under a live lease).</summary>
    public async Task<List<BackupRecord>> ListSinkCopiesHeldAsync(string sink, CancellationToken cancellationToken)
    {
        await ReplayPendingAsync(cancellationToken);
        return await _records.FindAsync(
            Filter.Eq($"sinks.{sink}.status", SinkStatus.Running) & Filter.Gt($"sinks.{sink}.leaseUntil", Now),
            Sort.Ascending(r => r.Id), limit: null, cancellationToken);
    }

    /// <summary>
    /// Snapshots whose location in <paramref name="sink"/> holds one of <paramref name="values"/> at <paramref name="locationPath"/>
    /// (a dotted path inside the location, e.g. <c>parts.messageId</c>).
    /// </summary>
    public async Task<List<BackupRecord>> ListSinkCopiesReferencingAsync(string sink, string locationPath, IEnumerable<int> values, CancellationToken cancellationToken) =>
        await _records.FindAsync(Filter.In($"sinks.{sink}.location.{locationPath}", values), Sort.Ascending(r => r.Id), limit: null, cancellationToken);

    /// <summary>
    /// Retention takes the sink's lease on a copy it is about to remove, so that no instance starts (re)making the copy
    /// meanwhile (and a retry never reuses parts being deleted). False when the copy is not removable (any more).
    /// </summary>
    public async Task<bool> TryLeaseSinkCopyForRemovalAsync(string snapshotId, string sink, string owner, TimeSpan lease, CancellationToken cancellationToken)
    {
        var result = await _records.UpdateOneAsync(
            Filter.Eq(r => r.Id, snapshotId) & RemovableCopy(sink),
            Update.Set($"sinks.{sink}.owner", owner).Set($"sinks.{sink}.leaseUntil", Now + lease),
            cancellationToken: cancellationToken);
        return result.MatchedCount == 1;
    }

    /// <summary>Ends retention's lease on a copy it could not remove (the next cleanup tries again).</summary>
    public Task ReleaseSinkCopyAsync(string snapshotId, string sink, string owner, CancellationToken cancellationToken) =>
        _records.UpdateOneAsync(
            Filter.Eq(r => r.Id, snapshotId) & Filter.Eq($"sinks.{sink}.owner", owner),
            Update.Unset($"sinks.{sink}.owner").Unset($"sinks.{sink}.leaseUntil"),
            cancellationToken: cancellationToken);

    /// <summary>Records that retention removed a sink's copy, with what was and was not removed, and ends retention's lease on it.</summary>
    public Task RecordSinkRemovalAsync(string snapshotId, string sink, SinkRemoval removal, CancellationToken cancellationToken) =>
        _records.UpdateOneAsync(
            Filter.Eq(r => r.Id, snapshotId),
            Update.Set($"sinks.{sink}.removedAt", Now).Set($"sinks.{sink}.removal", removal.ToBsonDocument()).Set(r => r.UpdatedAt, Now)
                .Unset($"sinks.{sink}.owner").Unset($"sinks.{sink}.leaseUntil"),
            cancellationToken: cancellationToken);

    /// <summary>Records a restore drill's result for one destination of a snapshot.</summary>
    public Task RecordDrillAsync(string snapshotId, string destination, bool ok, string? error, CancellationToken cancellationToken) =>
        _records.UpdateOneAsync(
            Filter.Eq(r => r.Id, snapshotId),
            Update.Set($"drills.{destination}", new DrillRecord { At = Now, Ok = ok, Error = error }),
            cancellationToken: cancellationToken);

    /// <summary>The snapshot with the newest data whose copy in <paramref name="sink"/> succeeded (the last good copy there).</summary>
    public async Task<BackupRecord?> FindLatestSucceededAsync(string sink, CancellationToken cancellationToken)
    {
        await ReplayPendingAsync(cancellationToken); // retention must know every copy that was made
        return await _records.FindFirstAsync(Filter.Eq($"sinks.{sink}.status", SinkStatus.Succeeded), NewestDataFirst, cancellationToken);
    }

    /// <summary>Snapshots whose copy in <paramref name="sink"/> succeeded and was not removed: what must still be there.</summary>
    public async Task<List<BackupRecord>> ListKeptSinkCopiesAsync(string sink, CancellationToken cancellationToken)
    {
        await ReplayPendingAsync(cancellationToken);
        return await _records.FindAsync(
            Filter.Eq($"sinks.{sink}.status", SinkStatus.Succeeded) & Filter.Exists($"sinks.{sink}.removedAt", false),
            NewestDataFirst, limit: null, cancellationToken);
    }

    /// <summary>Records how a destination's cleanup went, on the snapshot it keeps (<c>status</c> shows the latest).</summary>
    public Task RecordCleanupAsync(string snapshotId, string sink, string status, string? reason, CancellationToken cancellationToken) =>
        _records.UpdateOneAsync(
            Filter.Eq(r => r.Id, snapshotId),
            Update.Set($"sinks.{sink}.cleanup", new CleanupRecord { Status = status, At = Now, Reason = reason }),
            cancellationToken: cancellationToken);

    /// <summary>The snapshot carrying the latest recorded cleanup of <paramref name="sink"/>, if any.</summary>
    public async Task<BackupRecord?> FindLatestCleanupAsync(string sink, CancellationToken cancellationToken) =>
        await _records.FindFirstAsync(Filter.Exists($"sinks.{sink}.cleanup", true), Sort.Descending($"sinks.{sink}.cleanup.at"), cancellationToken);

    // "Latest" is the newest data (records from before data times were kept sort last), then the largest id.
    private static SortDefinition<BackupRecord> NewestDataFirst => Sort.Descending(r => r.Manifest!.DataTime).Descending(r => r.Id);

    /// <summary>
    /// Takes, once across all watchers, a snapshot since <paramref name="sinceSnapshotId"/> that ended degraded or failed
    /// and was not alerted about yet; null when there is none.
    /// </summary>
    public async Task<BackupRecord?> ClaimUnalertedOutcomeAsync(string sinceSnapshotId, CancellationToken cancellationToken)
    {
        await ReplayPendingAsync(cancellationToken);
        return await _records.FindOneAndUpdateAsync(
            Filter.Gte(r => r.Id, sinceSnapshotId) & Filter.In(r => r.Status, [BackupStatus.Degraded, BackupStatus.Failed])
            & Filter.Eq(r => r.AlertedAt, null),
            Update.Set(r => r.AlertedAt, Now),
            new FindOneAndUpdateOptions<BackupRecord> { ReturnDocument = ReturnDocument.After, Sort = Sort.Ascending(r => r.Id) },
            cancellationToken);
    }

    /// <summary>Derives created / complete / degraded / failed from the sinks' outcomes.</summary>
    private async Task RefreshStatusAsync(string snapshotId, CancellationToken cancellationToken)
    {
        var record = await LoadAsync(snapshotId, cancellationToken);
        if (record is null || record.Artifact is null || record.Status is BackupStatus.Requested or BackupStatus.Exporting)
        {
            return;
        }

        var status = OverallStatus(record, _expectedSinks);
        if (status != record.Status)
        {
            await _records.UpdateOneAsync(
                Filter.Eq(r => r.Id, snapshotId) & Filter.Eq(r => r.Status, record.Status),
                Update.Set(r => r.Status, status).Set(r => r.UpdatedAt, Now),
                cancellationToken: cancellationToken);
        }
    }

    public static string OverallStatus(BackupRecord record, IReadOnlyList<string> expectedSinks)
    {
        var outcomes = expectedSinks.Select(s => record.Sinks.GetValueOrDefault(s)?.Status).ToList();
        if (outcomes.Any(s => !SinkStatus.IsFinal(s)))
        {
            return BackupStatus.Created;
        }

        var failed = outcomes.Count(s => s == SinkStatus.Failed);
        var succeeded = outcomes.Count(s => s == SinkStatus.Succeeded);
        return failed == 0 ? BackupStatus.Complete : succeeded > 0 ? BackupStatus.Degraded : BackupStatus.Failed;
    }

    /// <summary>The snapshot's record, with any results waiting in Redis written first.</summary>
    public async Task<BackupRecord?> GetAsync(string snapshotId, CancellationToken cancellationToken)
    {
        await ReplayPendingAsync(cancellationToken);
        return await LoadAsync(snapshotId, cancellationToken);
    }

    private async Task<BackupRecord?> LoadAsync(string snapshotId, CancellationToken cancellationToken) =>
        await _records.FindFirstAsync(Filter.Eq(r => r.Id, snapshotId), sort: null, cancellationToken);

    /// <summary>Newest first (ids sort by time).</summary>
    public async Task<List<BackupRecord>> ListRecentAsync(int limit, CancellationToken cancellationToken)
    {
        await ReplayPendingAsync(cancellationToken);
        return await _records.FindAsync(Filter.Empty, Sort.Descending(r => r.Id), limit, cancellationToken);
    }

    // A timestamp there, by a comparison (which matches values of the same BSON type only): a record of a snapshot read at
    // no cluster time may hold {_csharpnull: true} there (written by earlier versions), which "$exists" and "$ne: null"
    // both match.
    private static readonly FilterDefinition<BackupRecord> HasClusterTime = Filter.Gte("manifest.clusterTime", new BsonTimestamp(0, 1));

    /// <summary>
    /// The exported snapshot (its artifact was made) with the newest cluster time, optionally only those newer than
    /// <paramref name="after"/> or at most <paramref name="atOrBefore"/>: where a chain of increments can start, and the
    /// base an increment is filed under.
    /// </summary>
    public async Task<BackupRecord?> FindNewestWithClusterTimeAsync(BsonTimestamp? after, BsonTimestamp? atOrBefore, CancellationToken cancellationToken)
    {
        var filter = Filter.Ne(r => r.Artifact, null) & HasClusterTime;
        if (after is not null)
        {
            filter &= Filter.Gt("manifest.clusterTime", after);
        }

        if (atOrBefore is not null)
        {
            filter &= Filter.Lte("manifest.clusterTime", atOrBefore);
        }

        return await _records.FindFirstAsync(filter, Sort.Descending("manifest.clusterTime"), cancellationToken);
    }

    /// <summary>Snapshots whose artifact is still in the store and whose cluster time lies in [<paramref name="from"/>, <paramref name="to"/>], oldest first.</summary>
    public async Task<List<BackupRecord>> ListStoredWithClusterTimeAsync(BsonTimestamp from, BsonTimestamp to, CancellationToken cancellationToken) =>
        await _records.FindAsync(
            Filter.Ne(r => r.Artifact, null) & Filter.Eq(r => r.Artifact!.DeletedAt, null)
            & Filter.Gte("manifest.clusterTime", from) & Filter.Lte("manifest.clusterTime", to),
            Sort.Ascending("manifest.clusterTime"), limit: null, cancellationToken);

    /// <summary>The snapshot with the oldest cluster time whose artifact is still in the store (the earliest a restore from the store can start at).</summary>
    public async Task<BackupRecord?> FindOldestStoredWithClusterTimeAsync(CancellationToken cancellationToken) =>
        await _records.FindFirstAsync(
            Filter.Ne(r => r.Artifact, null) & Filter.Eq(r => r.Artifact!.DeletedAt, null)
            & HasClusterTime,
            Sort.Ascending("manifest.clusterTime"), cancellationToken);

    /// <summary>The complete snapshot with the newest data.</summary>
    public async Task<BackupRecord?> FindLatestCompleteAsync(CancellationToken cancellationToken) =>
        await _records.FindFirstAsync(Filter.Eq(r => r.Status, BackupStatus.Complete), NewestDataFirst, cancellationToken);

    /// <summary>Records with an artifact still in the store whose snapshot id is older than <paramref name="before"/>, oldest first.</summary>
    public async Task<List<BackupRecord>> ListWithArtifactBeforeAsync(string beforeSnapshotId, CancellationToken cancellationToken) =>
        await _records.FindAsync(
            Filter.Lt(r => r.Id, beforeSnapshotId) & Filter.Ne(r => r.Artifact, null) & Filter.Eq(r => r.Artifact!.DeletedAt, null),
            Sort.Ascending(r => r.Id), limit: null, cancellationToken);

    public Task MarkArtifactDeletedAsync(string snapshotId, CancellationToken cancellationToken) =>
        _records.UpdateOneAsync(
            Filter.Eq(r => r.Id, snapshotId),
            Update.Set(r => r.Artifact!.DeletedAt, Now),
            cancellationToken: cancellationToken);

    private static FilterDefinition<BackupRecord> HeldBy(string snapshotId, string owner) =>
        Filter.Eq(r => r.Id, snapshotId) & Filter.Eq(r => r.Status, BackupStatus.Exporting) & Filter.Eq(r => r.Export!.Owner, owner);

    [LoggerMessage(Level = LogLevel.Warning, Message = "backups_meta not written ({Why}): {Sink} {Kind} of snapshot {SnapshotId} kept in Redis until MongoDB takes it")]
    private static partial void LogWriteDeferred(ILogger logger, string why, string sink, string kind, string snapshotId);

    [LoggerMessage(Level = LogLevel.Error, Message = "MongoDB refused a pending backups_meta write ({Sink} {Kind} of {SnapshotId}); moved to Redis list {Key}: {Error}")]
    private static partial void LogPendingWriteRefused(ILogger logger, string sink, string kind, string snapshotId, string key, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Replayed {Count} backups_meta writes kept in Redis while MongoDB was unreachable")]
    private static partial void LogPendingWritesReplayed(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replaying backups_meta writes kept in Redis failed; they stay there for the next try: {Error}")]
    private static partial void LogReplayFailed(ILogger logger, string error);
}

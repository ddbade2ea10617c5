using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.Snapshots;

namespace TeleGuard.Backup.Storage;

public enum ExportClaim
{
    /// <summary>This caller holds the export lease and must export.</summary>
    Acquired,

    /// <summary>The snapshot is already created: nothing to export.</summary>
    AlreadyCreated,

    /// <summary>Another live exporter holds the lease.</summary>
    HeldElsewhere,
}

/// <summary>
/// <c>backups_meta</c>: one document per snapshot (<c>_id</c> = snapshot id). Every write is an idempotent upsert or a
/// conditional update keyed by snapshot id (and sink), so redelivered messages converge to the same document.
/// </summary>
public sealed class BackupsMetaStore
{
    public const string CollectionName = "backups_meta";

    private readonly IMongoCollection<BackupRecord> _records;
    private readonly IReadOnlyList<string> _expectedSinks;
    private readonly TimeProvider _time;

    public BackupsMetaStore(IMongoDatabase database, TimeProvider time, IReadOnlyList<string>? expectedSinks = null)
    {
        _records = database.GetCollection<BackupRecord>(CollectionName);
        _expectedSinks = expectedSinks ?? BackupSinks.All;
        _time = time;
    }

    private DateTime Now => _time.GetUtcNow().UtcDateTime;

    private static FilterDefinitionBuilder<BackupRecord> Filter => Builders<BackupRecord>.Filter;
    private static UpdateDefinitionBuilder<BackupRecord> Update => Builders<BackupRecord>.Update;

    /// <summary>Creates the record if it does not exist; a second request for the same id changes nothing.</summary>
    public Task RecordRequestedAsync(string snapshotId, DateTimeOffset requestedAt, string reason, CancellationToken cancellationToken) =>
        _records.UpdateOneAsync(
            Filter.Eq(r => r.Id, snapshotId),
            Update.SetOnInsert(r => r.Status, BackupStatus.Requested)
                .SetOnInsert(r => r.RequestedAt, requestedAt.UtcDateTime)
                .SetOnInsert(r => r.Reason, reason)
                .SetOnInsert(r => r.Sinks, new Dictionary<string, SinkRecord>())
                .SetOnInsert(r => r.UpdatedAt, Now),
            new UpdateOptions { IsUpsert = true },
            cancellationToken);

    /// <summary>
    /// Takes the export lease for a snapshot that is requested, failed, or exporting under an expired lease (its
    /// exporter died). The lease is renewed while exporting; the artifact is recorded only by the lease holder.
    /// </summary>
    public async Task<(ExportClaim Claim, BackupRecord? Record)> TryClaimExportAsync(
        string snapshotId, string owner, TimeSpan lease, CancellationToken cancellationToken)
    {
        var now = Now;
        var claimable = Filter.Eq(r => r.Id, snapshotId) & Filter.Or(
            Filter.In(r => r.Status, [BackupStatus.Requested, BackupStatus.Failed]),
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

        var current = await GetAsync(snapshotId, cancellationToken);
        return current?.Status switch
        {
            BackupStatus.Created or BackupStatus.Complete or BackupStatus.Degraded => (ExportClaim.AlreadyCreated, current),
            BackupStatus.Failed when current.Artifact is not null => (ExportClaim.AlreadyCreated, current),
            _ => (ExportClaim.HeldElsewhere, current),
        };
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
            ClusterTime = manifest.Consistency.ClusterTime is { } t ? new BsonTimestamp((int)t.T, (int)t.I) : null,
            Documents = manifest.TotalDocuments,
            Bytes = manifest.TotalBytes,
            Collections = manifest.Collections
                .Select(c => new CollectionSummary { Name = c.Name, Documents = c.Documents, Bytes = c.Bytes, Sha256 = c.Sha256 })
                .ToList(),
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

    /// <summary>A sink starts (or retries) its work on a snapshot: status running, attempts + 1.</summary>
    public Task RecordSinkAttemptAsync(string snapshotId, string sink, CancellationToken cancellationToken) =>
        _records.UpdateOneAsync(
            Filter.Eq(r => r.Id, snapshotId) & Filter.Ne($"sinks.{sink}.status", SinkStatus.Succeeded),
            Update.Set($"sinks.{sink}.status", SinkStatus.Running)
                .Set($"sinks.{sink}.at", Now)
                .Inc($"sinks.{sink}.attempts", 1),
            cancellationToken: cancellationToken);

    /// <summary>
    /// Records a sink's outcome (<c>succeeded</c>, <c>failed</c> or <c>skipped</c>) and where its copy is, then updates
    /// the snapshot's overall status. A recorded success is never overwritten by a later failure.
    /// </summary>
    public async Task RecordSinkOutcomeAsync(
        string snapshotId, string sink, string status, string? error, BsonDocument? location, CancellationToken cancellationToken)
    {
        if (!SinkStatus.IsFinal(status))
        {
            throw new ArgumentOutOfRangeException(nameof(status), status, "A sink outcome is succeeded, failed or skipped.");
        }

        var filter = Filter.Eq(r => r.Id, snapshotId);
        if (status != SinkStatus.Succeeded)
        {
            filter &= Filter.Ne($"sinks.{sink}.status", SinkStatus.Succeeded);
        }

        var update = Update.Set($"sinks.{sink}.status", status)
            .Set($"sinks.{sink}.at", Now)
            .Set(r => r.UpdatedAt, Now);
        update = error is null ? update.Unset($"sinks.{sink}.error") : update.Set($"sinks.{sink}.error", error);
        if (location is not null)
        {
            update = update.Set($"sinks.{sink}.location", location);
        }

        await _records.UpdateOneAsync(filter, update, cancellationToken: cancellationToken);
        await RefreshStatusAsync(snapshotId, cancellationToken);
    }

    /// <summary>A failed sink attempt that will be retried: the error is kept, the status stays <c>running</c>.</summary>
    public Task RecordSinkErrorAsync(string snapshotId, string sink, string error, CancellationToken cancellationToken) =>
        _records.UpdateOneAsync(
            Filter.Eq(r => r.Id, snapshotId) & Filter.Ne($"sinks.{sink}.status", SinkStatus.Succeeded),
            Update.Set($"sinks.{sink}.error", error).Set($"sinks.{sink}.at", Now),
            cancellationToken: cancellationToken);

    /// <summary>Replaces where a sink's copy of a snapshot is (e.g. a commit that was replayed or compacted).</summary>
    public Task UpdateSinkLocationAsync(string snapshotId, string sink, BsonDocument location, CancellationToken cancellationToken) =>
        _records.UpdateOneAsync(
            Filter.Eq(r => r.Id, snapshotId),
            Update.Set($"sinks.{sink}.location", location).Set(r => r.UpdatedAt, Now),
            cancellationToken: cancellationToken);

    /// <summary>Marks the sink's copies of snapshots older than <paramref name="keptSnapshotId"/> as removed by retention.</summary>
    public Task MarkSinkCopiesRemovedAsync(string sink, string keptSnapshotId, CancellationToken cancellationToken) =>
        _records.UpdateManyAsync(
            Filter.Lt(r => r.Id, keptSnapshotId) & Filter.Eq($"sinks.{sink}.status", SinkStatus.Succeeded)
            & Filter.Exists($"sinks.{sink}.removedAt", false),
            Update.Set($"sinks.{sink}.removedAt", Now),
            cancellationToken: cancellationToken);

    /// <summary>Marks one snapshot's copy in <paramref name="sink"/> as removed by retention.</summary>
    public Task MarkSinkCopyRemovedAsync(string snapshotId, string sink, CancellationToken cancellationToken) =>
        _records.UpdateOneAsync(
            Filter.Eq(r => r.Id, snapshotId) & Filter.Exists($"sinks.{sink}", true),
            Update.Set($"sinks.{sink}.removedAt", Now),
            cancellationToken: cancellationToken);

    /// <summary>Snapshots older than <paramref name="beforeSnapshotId"/> whose copy in <paramref name="sink"/> exists (fully or in part) and was not removed.</summary>
    public async Task<List<BackupRecord>> ListSinkCopiesBeforeAsync(string sink, string beforeSnapshotId, CancellationToken cancellationToken) =>
        await _records.Find(Filter.Lt(r => r.Id, beforeSnapshotId) & Filter.Exists($"sinks.{sink}.location", true)
                            & Filter.Exists($"sinks.{sink}.removedAt", false))
            .Sort(Builders<BackupRecord>.Sort.Ascending(r => r.Id)).ToListAsync(cancellationToken);

    /// <summary>Records that retention removed a sink's copy, with what was and was not removed.</summary>
    public Task RecordSinkRemovalAsync(string snapshotId, string sink, BsonDocument removal, CancellationToken cancellationToken) =>
        _records.UpdateOneAsync(
            Filter.Eq(r => r.Id, snapshotId),
            Update.Set($"sinks.{sink}.removedAt", Now).Set($"sinks.{sink}.removal", removal).Set(r => r.UpdatedAt, Now),
            cancellationToken: cancellationToken);

    /// <summary>Records a restore drill's result for one destination of a snapshot.</summary>
    public Task RecordDrillAsync(string snapshotId, string destination, bool ok, string? error, CancellationToken cancellationToken) =>
        _records.UpdateOneAsync(
            Filter.Eq(r => r.Id, snapshotId),
            Update.Set($"drills.{destination}", new DrillRecord { At = Now, Ok = ok, Error = error }),
            cancellationToken: cancellationToken);

    /// <summary>The newest snapshot whose copy in <paramref name="sink"/> succeeded (the last good copy there).</summary>
    public async Task<BackupRecord?> FindLatestSucceededAsync(string sink, CancellationToken cancellationToken) =>
        await _records.Find(Filter.Eq($"sinks.{sink}.status", SinkStatus.Succeeded))
            .Sort(Builders<BackupRecord>.Sort.Descending(r => r.Id)).Limit(1).FirstOrDefaultAsync(cancellationToken);

    /// <summary>Derives created / complete / degraded / failed from the sinks' outcomes.</summary>
    private async Task RefreshStatusAsync(string snapshotId, CancellationToken cancellationToken)
    {
        var record = await GetAsync(snapshotId, cancellationToken);
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

    public async Task<BackupRecord?> GetAsync(string snapshotId, CancellationToken cancellationToken) =>
        await _records.Find(Filter.Eq(r => r.Id, snapshotId)).FirstOrDefaultAsync(cancellationToken);

    /// <summary>Newest first (ids sort by time).</summary>
    public async Task<List<BackupRecord>> ListRecentAsync(int limit, CancellationToken cancellationToken) =>
        await _records.Find(Filter.Empty).Sort(Builders<BackupRecord>.Sort.Descending(r => r.Id)).Limit(limit).ToListAsync(cancellationToken);

    public async Task<BackupRecord?> FindLatestCompleteAsync(CancellationToken cancellationToken) =>
        await _records.Find(Filter.Eq(r => r.Status, BackupStatus.Complete))
            .Sort(Builders<BackupRecord>.Sort.Descending(r => r.Id)).Limit(1).FirstOrDefaultAsync(cancellationToken);

    /// <summary>Records with an artifact still in the store whose snapshot id is older than <paramref name="before"/>, oldest first.</summary>
    public async Task<List<BackupRecord>> ListWithArtifactBeforeAsync(string beforeSnapshotId, CancellationToken cancellationToken) =>
        await _records.Find(Filter.Lt(r => r.Id, beforeSnapshotId) & Filter.Ne(r => r.Artifact, null)
                & Filter.Eq(r => r.Artifact!.DeletedAt, null))
            .Sort(Builders<BackupRecord>.Sort.Ascending(r => r.Id)).ToListAsync(cancellationToken);

    public Task MarkArtifactDeletedAsync(string snapshotId, CancellationToken cancellationToken) =>
        _records.UpdateOneAsync(
            Filter.Eq(r => r.Id, snapshotId),
            Update.Set(r => r.Artifact!.DeletedAt, Now),
            cancellationToken: cancellationToken);

    private static FilterDefinition<BackupRecord> HeldBy(string snapshotId, string owner) =>
        Filter.Eq(r => r.Id, snapshotId) & Filter.Eq(r => r.Status, BackupStatus.Exporting) & Filter.Eq(r => r.Export!.Owner, owner);
}

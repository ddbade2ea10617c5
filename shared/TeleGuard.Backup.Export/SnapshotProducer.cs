using MassTransit;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Export;

/// <summary>
/// Turns a <see cref="SnapshotRequested"/> into one artifact and one <see cref="SnapshotCreated"/>, whatever the number
/// of requests or redeliveries. <see cref="AcceptAsync"/> records the request in <c>backups_meta</c> (so its message
/// can be acknowledged at once, whatever the export's length); <see cref="SnapshotExportRunner"/> then exports it under
/// a lease in <c>backups_meta</c> held by one attempt alone. The artifact is stored under a name of its own and
/// recorded only by the lease holder, and a request for a snapshot that already exists re-announces it instead.
/// A snapshot whose export failed for good is never exported again under its id.
/// </summary>
public sealed partial class SnapshotProducer(
    SnapshotExporter exporter,
    IArtifactStore artifacts,
    BackupsMetaStore meta,
    IOptions<SnapshotServiceOptions> options,
    IOptions<ArtifactStoreOptions> storeOptions,
    IOptions<WorkDirectoryOptions> workDirectory,
    BackupMetrics metrics,
    ILogger<SnapshotProducer> logger)
{
    /// <summary>
    /// Records the request; true when the snapshot is now waiting for the export runner. A snapshot that exists is
    /// announced again as needed, one that failed for good is refused, one being exported is left to its exporter
    /// (whose lease the runner takes over if it dies).
    /// </summary>
    public async Task<bool> AcceptAsync(SnapshotRequested request, IPublishEndpoint publish, CancellationToken cancellationToken)
    {
        if (!SnapshotIds.IsValid(request.SnapshotId))
        {
            throw new PermanentFailureException($"SnapshotRequested carries an invalid snapshot id '{request.SnapshotId}'.");
        }

        var id = request.SnapshotId;
        await meta.RecordRequestedAsync(id, request.RequestedAt, request.Reason, cancellationToken);
        if (await meta.MarkExportQueuedAsync(id, cancellationToken))
        {
            LogAccepted(logger, id);
            return true;
        }

        var record = await meta.GetAsync(id, cancellationToken);
        switch (record?.Status)
        {
            case BackupStatus.Created or BackupStatus.Complete or BackupStatus.Degraded:
            case BackupStatus.Failed when record.Artifact is not null:
                await AnnounceExistingAsync(record, publish, cancellationToken);
                break;
            case BackupStatus.Failed:
                LogFailedForGood(logger, id, record.Error);
                break;
            default:
                // Exporting, or back to requested after a failed attempt: tracked in backups_meta already, the runner
                // of whichever instance holds (or next takes) its lease finishes it.
                LogDuplicateRequest(logger, id, record?.Export?.Owner);
                break;
        }

        return false;
    }

    /// <summary>
    /// Exports a snapshot whose lease <paramref name="owner"/> holds (claimed by the runner) and records and announces
    /// it. A failure puts it back to requested for another attempt, or fails it for good on the final one; a stop of
    /// the process (<paramref name="cancellationToken"/>) gives the lease back without counting the attempt.
    /// </summary>
    /// <param name="isFinalAttempt">Whether a failure now would be the last one (no retry follows).</param>
    public async Task ExportAsync(string id, string owner, IPublishEndpoint publish, bool isFinalAttempt, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var started = System.Diagnostics.Stopwatch.StartNew();
        var exportDirectory = Path.Combine(workDirectory.Value.Path, "exports", $"{id}.{Guid.NewGuid():N}");
        using var leaseHeld = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var renewal = RenewLeaseAsync(id, owner, settings.Lease, leaseHeld);
        try
        {
            RemoveStaleExports(workDirectory.Value.Path, id);
            await RemoveUnrecordedArtifactsAsync(id, leaseHeld.Token);
            var manifest = await exporter.ExportAsync(id, exportDirectory, new SnapshotExportOptions
            {
                Collections = settings.Collections,
                ExcludedCollections = storeOptions.Value.OwnCollections,
                PartSizeBytes = settings.PartSizeBytes,
            }, leaseHeld.Token);

            var stored = await artifacts.SaveAsync(id, (stream, ct) => SnapshotArchive.WriteCompressedAsync(exportDirectory, manifest, stream, ct), leaseHeld.Token);
            var artifact = new ArtifactRecord { Location = stored.Location, Size = stored.Size, Sha256 = stored.Sha256 };
            if (!await meta.MarkCreatedAsync(id, owner, artifact, manifest, cancellationToken))
            {
                // Another attempt holds the snapshot now; this artifact has a name of its own and no one else knows it.
                await artifacts.DeleteAsync(stored.Location, CancellationToken.None);
                LogLeaseLostBeforeRecorded(logger, id);
                throw new SnapshotExportInProgressException(id);
            }

            metrics.SnapshotCreated(stored.Size, started.Elapsed);
            LogCreated(logger, id, manifest.Collections.Count, manifest.TotalDocuments, manifest.TotalBytes, stored.Location, stored.Size, stored.Sha256);
            // Recorded: from here on a stop must not undo anything; a crash before the announcement is announced by
            // the next request (announcedAt is still unset).
            await publish.Publish(Announcement(id, DateTime.UtcNow, artifact, manifest.Collections.Count, manifest.TotalDocuments), CancellationToken.None);
            await meta.MarkAnnouncedAsync(id, CancellationToken.None);
        }
        catch (Exception e) when (e is not SnapshotExportInProgressException && cancellationToken.IsCancellationRequested)
        {
            // The process is stopping: the snapshot goes back to the queue in backups_meta for the next runner.
            await ReleaseOnStopAsync(id, owner, settings.Lease);
            throw;
        }
        catch (Exception e) when (e is not SnapshotExportInProgressException && leaseHeld.IsCancellationRequested)
        {
            // Stopped because the lease could not be renewed or was taken over: nothing of this attempt is recorded.
            LogExportStoppedLeaseLost(logger, id);
            await ReleaseQuietlyAsync(id, owner, settings.Lease, isFinalAttempt);
            throw new SnapshotExportInProgressException(id);
        }
        catch (Exception e) when (e is not SnapshotExportInProgressException)
        {
            LogExportFailed(logger, id, ErrorText.Describe(e));
            var final = isFinalAttempt || e is PermanentFailureException;
            await meta.MarkExportFailedAsync(id, owner, ErrorText.Describe(e), final, CancellationToken.None);
            throw;
        }
        finally
        {
            await leaseHeld.CancelAsync();
            await renewal;
            DeleteQuietly(exportDirectory);
        }
    }

    /// <summary>
    /// Announces a snapshot that was recorded but not announced (its announcement claimed by
    /// <see cref="BackupsMetaStore.TryClaimUnannouncedAsync"/>): no request is redelivered for it any more.
    /// </summary>
    public async Task AnnounceRecordedAsync(BackupRecord record, IPublishEndpoint publish, CancellationToken cancellationToken)
    {
        if (record.Manifest is not { } summary || record.Artifact is not { } artifact)
        {
            throw new InvalidDataException($"Snapshot {record.Id} is recorded as created without its manifest or artifact; it cannot be announced.");
        }

        // A failure leaves the claim to run out (a lease later the next sweep tries again); meanwhile the sweep goes on
        // with the next one.
        await publish.Publish(Announcement(record.Id, record.CreatedAt, artifact, summary.Collections.Count, summary.Documents), cancellationToken);
        await meta.MarkAnnouncedAsync(record.Id, cancellationToken);
        LogAnnouncedLate(logger, record.Id);
    }

    // A stop is not a failure of the export: the lease goes back uncounted. If that write fails, the lease expires on
    // its own and the export is resumed then (the attempt counted).
    private async Task ReleaseOnStopAsync(string id, string owner, TimeSpan lease)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(Math.Min(10, lease.TotalSeconds)));
            if (await meta.ReleaseExportAsync(id, owner, timeout.Token))
            {
                LogReleasedOnStop(logger, id);
            }
        }
        catch (Exception e)
        {
            LogReleaseFailed(logger, id, ErrorText.Describe(e));
        }
    }

    // A re-request of a snapshot that exists never exports it again: a failed one is announced again (its destinations
    // retry from the artifact it has), one that was never announced (a crash in between) is announced now, unless the
    // export runner recorded it: its exporter may be announcing it this moment, and the runner announces it a lease
    // after recording if it did not.
    private async Task AnnounceExistingAsync(BackupRecord record, IPublishEndpoint publish, CancellationToken cancellationToken)
    {
        var id = record.Id;
        if (record.Artifact is not { DeletedAt: null } artifact || record.Manifest is not { } summary)
        {
            LogExistsArtifactRemoved(logger, id, record.Status);
            return;
        }

        var announcement = Announcement(id, record.CreatedAt, artifact, summary.Collections.Count, summary.Documents);
        if (record.Status == BackupStatus.Failed)
        {
            await publish.Publish(announcement, cancellationToken);
            await meta.MarkReannouncedAsync(id, cancellationToken);
            LogAnnouncedAgain(logger, id, artifact.Location);
        }
        else if (record.AnnouncedAt is null && record.Export?.QueuedAt is not null)
        {
            LogLeftToRunner(logger, id);
        }
        else if (record.AnnouncedAt is null)
        {
            await publish.Publish(announcement, cancellationToken);
            await meta.MarkAnnouncedAsync(id, cancellationToken);
        }
        else
        {
            LogExists(logger, id, record.Status);
        }
    }

    // Artifacts of earlier attempts that died (or lost their lease) after saving: this attempt holds the lease, so
    // none of them can be recorded any more.
    private async Task RemoveUnrecordedArtifactsAsync(string id, CancellationToken cancellationToken)
    {
        foreach (var location in await artifacts.ListAsync(id, cancellationToken))
        {
            await artifacts.DeleteAsync(location, cancellationToken);
            LogRemovedUnrecordedArtifact(logger, id, location);
        }
    }

    // Gives the lease back at once if it is still this attempt's (a renewal that failed may not have lost it); bounded by
    // the lease, which expires on its own anyway.
    private async Task ReleaseQuietlyAsync(string id, string owner, TimeSpan lease, bool isFinalAttempt)
    {
        try
        {
            using var timeout = new CancellationTokenSource(lease);
            await meta.MarkExportFailedAsync(id, owner, "the export lease was lost", isFinalAttempt, timeout.Token);
        }
        catch (Exception e)
        {
            LogReleaseFailed(logger, id, ErrorText.Describe(e));
        }
    }

    private static SnapshotCreated Announcement(string id, DateTime? createdAt, ArtifactRecord artifact, int collections, long documents) =>
        new(id, createdAt is { } t ? new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)) : DateTimeOffset.UtcNow,
            artifact.Location, artifact.Size, artifact.Sha256, collections, documents);

    // Renews the lease at a third of its length until the export ends. A renewal that is refused (another exporter took
    // over) or that does not succeed within a third of the lease (MongoDB unreachable: it may expire before the next
    // one) stops the export at once.
    private async Task RenewLeaseAsync(string id, string owner, TimeSpan lease, CancellationTokenSource export)
    {
        try
        {
            while (true)
            {
                await Task.Delay(lease / 3, export.Token);
                bool renewed;
                using (var attempt = CancellationTokenSource.CreateLinkedTokenSource(export.Token))
                {
                    attempt.CancelAfter(lease / 3);
                    try
                    {
                        renewed = await meta.RenewExportLeaseAsync(id, owner, lease, attempt.Token);
                    }
                    catch (Exception e) when (!export.IsCancellationRequested)
                    {
                        LogRenewFailed(logger, id, ErrorText.Describe(e));
                        await export.CancelAsync();
                        return;
                    }
                }

                if (!renewed)
                {
                    LogLeaseTakenOver(logger, id);
                    await export.CancelAsync();
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The export ended.
        }
    }

    // Folders left by a crashed export of the same snapshot on this host (the lease says no one else is exporting it).
    private static void RemoveStaleExports(string root, string id)
    {
        var exports = Path.Combine(root, "exports");
        if (!Directory.Exists(exports))
        {
            return;
        }

        foreach (var stale in Directory.EnumerateDirectories(exports, $"{id}.*"))
        {
            DeleteQuietly(stale);
        }
    }

    private static void DeleteQuietly(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (IOException)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Snapshot {SnapshotId}: its export failed for good ({Error}); it is not exported again under this id (request a new snapshot)")]
    private static partial void LogFailedForGood(ILogger logger, string snapshotId, string? error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Snapshot {SnapshotId} accepted: its export is tracked in backups_meta")]
    private static partial void LogAccepted(ILogger logger, string snapshotId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Snapshot {SnapshotId} is recorded and its announcement is its exporter's (or the export runner's, a lease after recording)")]
    private static partial void LogLeftToRunner(ILogger logger, string snapshotId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Snapshot {SnapshotId} was recorded but not announced (its exporter stopped in between): announced now")]
    private static partial void LogAnnouncedLate(ILogger logger, string snapshotId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Snapshot {SnapshotId}: export stopped by the shutdown, its lease given back for the next exporter")]
    private static partial void LogReleasedOnStop(ILogger logger, string snapshotId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Snapshot {SnapshotId} is already being exported or retried ({Owner}); this request is a duplicate")]
    private static partial void LogDuplicateRequest(ILogger logger, string snapshotId, string? owner);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Snapshot {SnapshotId}: the export lease was lost before the artifact was recorded; it is left to whoever holds it")]
    private static partial void LogLeaseLostBeforeRecorded(ILogger logger, string snapshotId);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Snapshot {SnapshotId} created: {Collections} collections, {Documents} documents, {Bytes} bytes of JSON, artifact {Location} ({Size} bytes, sha256 {Sha256})")]
    private static partial void LogCreated(ILogger logger, string snapshotId, int collections, long documents, long bytes, string location, long size, string sha256);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Snapshot {SnapshotId}: export stopped, its lease was lost; the snapshot is left to whoever holds it")]
    private static partial void LogExportStoppedLeaseLost(ILogger logger, string snapshotId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Snapshot {SnapshotId} export failed: {Error}")]
    private static partial void LogExportFailed(ILogger logger, string snapshotId, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Snapshot {SnapshotId} already exists ({Status}); its artifact was removed by retention, nothing to announce")]
    private static partial void LogExistsArtifactRemoved(ILogger logger, string snapshotId, string status);

    [LoggerMessage(Level = LogLevel.Information, Message = "Snapshot {SnapshotId} failed (no destination holds a copy); its artifact {Location} is announced again so that they retry")]
    private static partial void LogAnnouncedAgain(ILogger logger, string snapshotId, string location);

    [LoggerMessage(Level = LogLevel.Information, Message = "Snapshot {SnapshotId} already exists ({Status})")]
    private static partial void LogExists(ILogger logger, string snapshotId, string status);

    [LoggerMessage(Level = LogLevel.Information, Message = "Snapshot {SnapshotId}: removed artifact {Location} of an earlier attempt that never recorded it")]
    private static partial void LogRemovedUnrecordedArtifact(ILogger logger, string snapshotId, string location);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Snapshot {SnapshotId}: could not release the export lease (it expires on its own): {Error}")]
    private static partial void LogReleaseFailed(ILogger logger, string snapshotId, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Snapshot {SnapshotId}: the export lease could not be renewed ({Error}); stopping the export")]
    private static partial void LogRenewFailed(ILogger logger, string snapshotId, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Snapshot {SnapshotId}: the export lease was taken over by another exporter; stopping the export")]
    private static partial void LogLeaseTakenOver(ILogger logger, string snapshotId);
}

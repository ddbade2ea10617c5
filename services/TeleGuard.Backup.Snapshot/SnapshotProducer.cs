using MassTransit;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Snapshots;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Snapshot;

/// <summary>
/// Turns a <see cref="SnapshotRequested"/> into one artifact and one <see cref="SnapshotCreated"/>, whatever the number
/// of requests or redeliveries: the export is guarded by a lease in <c>backups_meta</c>, the artifact is recorded only
/// once it is complete in the store, and a request for a snapshot that already exists re-announces it instead.
/// </summary>
public sealed class SnapshotProducer(
    SnapshotExporter exporter,
    IArtifactStore artifacts,
    BackupsMetaStore meta,
    IOptions<SnapshotServiceOptions> options,
    IOptions<ArtifactStoreOptions> storeOptions,
    IOptions<WorkDirectoryOptions> workDirectory,
    BackupMetrics metrics,
    ILogger<SnapshotProducer> logger)
{
    // One owner per process: a retry in the same process takes its own lease back at once.
    private static readonly string Owner = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}";

    /// <param name="isFinalAttempt">Whether a failure now would be the last one (no retry follows).</param>
    public async Task ProduceAsync(SnapshotRequested request, IPublishEndpoint publish, bool isFinalAttempt, CancellationToken cancellationToken)
    {
        if (!SnapshotIds.IsValid(request.SnapshotId))
        {
            throw new PermanentFailureException($"SnapshotRequested carries an invalid snapshot id '{request.SnapshotId}'.");
        }

        var id = request.SnapshotId;
        var settings = options.Value;
        await meta.RecordRequestedAsync(id, request.RequestedAt, request.Reason, cancellationToken);
        var (claim, record) = await meta.TryClaimExportAsync(id, Owner, settings.Lease, cancellationToken);
        switch (claim)
        {
            case ExportClaim.AlreadyCreated:
                logger.LogInformation("Snapshot {SnapshotId} already exists ({Status})", id, record!.Status);
                if (record.AnnouncedAt is null && record.Artifact is { DeletedAt: null } artifact && record.Manifest is { } summary)
                {
                    // A crash between recording and announcing would otherwise leave the sinks waiting forever.
                    await publish.Publish(Announcement(id, record.CreatedAt, artifact, summary.Collections.Count, summary.Documents), cancellationToken);
                    await meta.MarkAnnouncedAsync(id, cancellationToken);
                }

                return;
            case ExportClaim.HeldElsewhere:
                throw new SnapshotExportInProgressException(id);
        }

        var started = System.Diagnostics.Stopwatch.StartNew();
        var exportDirectory = Path.Combine(workDirectory.Value.Path, "exports", $"{id}.{Guid.NewGuid():N}");
        using var leaseLost = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var renewal = RenewLeaseAsync(id, settings.Lease, leaseLost);
        try
        {
            RemoveStaleExports(workDirectory.Value.Path, id);
            var manifest = await exporter.ExportAsync(id, exportDirectory, new SnapshotExportOptions
            {
                Collections = settings.Collections,
                ExcludedCollections = storeOptions.Value.OwnCollections,
                PartSizeBytes = settings.PartSizeBytes,
            }, leaseLost.Token);

            var stored = await artifacts.SaveAsync(id, (stream, ct) => SnapshotArchive.WriteAsync(exportDirectory, manifest, stream, ct), leaseLost.Token);
            var artifact = new ArtifactRecord { Location = stored.Location, Size = stored.Size, Sha256 = stored.Sha256 };
            if (!await meta.MarkCreatedAsync(id, Owner, artifact, manifest, cancellationToken))
            {
                await artifacts.DeleteAsync(stored.Location, CancellationToken.None);
                throw new SnapshotExportInProgressException(id);
            }

            metrics.SnapshotCreated(stored.Size, started.Elapsed);
            logger.LogInformation(
                "Snapshot {SnapshotId} created: {Collections} collections, {Documents} documents, {Bytes} bytes of JSON, artifact {Location} ({Size} bytes, sha256 {Sha256})",
                id, manifest.Collections.Count, manifest.TotalDocuments, manifest.TotalBytes, stored.Location, stored.Size, stored.Sha256);
            await publish.Publish(Announcement(id, DateTime.UtcNow, artifact, manifest.Collections.Count, manifest.TotalDocuments), cancellationToken);
            await meta.MarkAnnouncedAsync(id, cancellationToken);
        }
        catch (Exception e) when (e is not SnapshotExportInProgressException)
        {
            logger.LogError("Snapshot {SnapshotId} export failed: {Error}", id, ErrorText.Describe(e));
            var final = isFinalAttempt || e is PermanentFailureException;
            await meta.MarkExportFailedAsync(id, Owner, ErrorText.Describe(e), final, CancellationToken.None);
            throw;
        }
        finally
        {
            await leaseLost.CancelAsync();
            await renewal;
            DeleteQuietly(exportDirectory);
        }
    }

    private static SnapshotCreated Announcement(string id, DateTime? createdAt, ArtifactRecord artifact, int collections, long documents) =>
        new(id, createdAt is { } t ? new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)) : DateTimeOffset.UtcNow,
            artifact.Location, artifact.Size, artifact.Sha256, collections, documents);

    // Renews the lease at a third of its length until the export ends; a lost lease cancels the export.
    private async Task RenewLeaseAsync(string id, TimeSpan lease, CancellationTokenSource export)
    {
        try
        {
            while (!export.IsCancellationRequested)
            {
                await Task.Delay(lease / 3, export.Token);
                if (!await meta.RenewExportLeaseAsync(id, Owner, lease, export.Token))
                {
                    logger.LogWarning("Snapshot {SnapshotId}: export lease lost to another exporter; stopping", id);
                    await export.CancelAsync();
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            logger.LogWarning("Snapshot {SnapshotId}: lease renewal failed: {Error}", id, ErrorText.Describe(e));
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
}

/// <summary>Another exporter holds the lease for this snapshot; retried with backoff until it finishes or its lease expires.</summary>
public sealed class SnapshotExportInProgressException(string snapshotId)
    : Exception($"Snapshot {snapshotId} is being exported by another instance.");

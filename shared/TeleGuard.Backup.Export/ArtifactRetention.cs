using Microsoft.Extensions.Options;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Export;

/// <summary>
/// Removes artifacts from the artifact store once their snapshot is older than <c>RETENTION_HOURS</c> and every sink
/// has finished with it. The newest complete snapshot's artifact always stays, so <c>restore --from store</c> works.
/// Increments go with the snapshots before them: those that end at or before the oldest snapshot still held (no
/// restore from the store can use them any more) and were closed before the retention window, so a destination that
/// was away for less than the window still finds them to copy. The destinations' copies are not touched here: each
/// sink applies its own retention.
/// </summary>
public sealed partial class ArtifactRetention(
    BackupsMetaStore meta, IncrementsStore increments, IArtifactStore artifacts, IOptions<RetentionOptions> retention, IOptions<MongoOptions> mongo,
    TimeProvider time, ILogger<ArtifactRetention> logger)
{
    public async Task<int> ApplyAsync(CancellationToken cancellationToken)
    {
        var cutoff = SnapshotIds.FromTime(time.GetUtcNow() - retention.Value.Retention);
        var latestComplete = await meta.FindLatestCompleteAsync(cancellationToken);
        var deleted = 0;
        foreach (var record in await meta.ListWithArtifactBeforeAsync(cutoff, cancellationToken))
        {
            // Not while a destination is (again) copying from it, e.g. a retried delivery.
            if (record.Id == latestComplete?.Id || !BackupStatus.IsFinal(record.Status) || record.Sinks.Values.Any(s => s.Status == SinkStatus.Running))
            {
                continue;
            }

            try
            {
                await artifacts.DeleteAsync(record.Artifact!.Location, cancellationToken);
            }
            catch (ArtifactNotFoundException e)
            {
                // A store this configuration no longer reaches (ARTIFACT_DATABASE or ARTIFACT_DIR changed): say so and go
                // on with the others, instead of stopping retention at this record for good.
                LogCannotRemove(logger, record.Id, e.Message);
                continue;
            }

            await meta.MarkArtifactDeletedAsync(record.Id, cancellationToken);
            deleted++;
            LogRemoved(logger, record.Id);
        }

        await RemoveIncrementsBeforeOldestSnapshotAsync(cancellationToken);
        return deleted;
    }

    private async Task RemoveIncrementsBeforeOldestSnapshotAsync(CancellationToken cancellationToken)
    {
        var oldest = await meta.FindOldestStoredWithClusterTimeAsync(cancellationToken);
        if (oldest is null)
        {
            return; // no snapshot a chain could start from is held: keep everything
        }

        var closedBefore = (time.GetUtcNow() - retention.Value.Retention).UtcDateTime;
        foreach (var increment in await increments.ListRemovableAsync(mongo.Value.DatabaseName, oldest.Manifest!.ClusterTime!, closedBefore, cancellationToken))
        {
            try
            {
                await artifacts.DeleteAsync(increment.Artifact.Location, cancellationToken);
            }
            catch (ArtifactNotFoundException e)
            {
                LogCannotRemove(logger, increment.Id, e.Message);
                continue;
            }

            await increments.MarkArtifactDeletedAsync(increment.Id, time.GetUtcNow().UtcDateTime, cancellationToken);
            LogIncrementRemoved(logger, increment.Id);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Increment {IncrementId} removed from the artifact store (before the oldest snapshot held)")]
    private static partial void LogIncrementRemoved(ILogger logger, string incrementId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Artifact of snapshot {SnapshotId} cannot be removed: {Reason}; remove it by hand if it still exists")]
    private static partial void LogCannotRemove(ILogger logger, string snapshotId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Artifact of snapshot {SnapshotId} removed from the artifact store (retention)")]
    private static partial void LogRemoved(ILogger logger, string snapshotId);
}

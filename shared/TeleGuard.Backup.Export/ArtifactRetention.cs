using Microsoft.Extensions.Options;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Export;

/// <summary>
/// Removes artifacts from the artifact store once their snapshot is older than <c>RETENTION_HOURS</c> and every sink
/// has finished with it. The newest complete snapshot's artifact always stays, so <c>restore --from store</c> works.
/// The destinations' copies are not touched here: each sink applies its own retention.
/// </summary>
public sealed partial class ArtifactRetention(
    BackupsMetaStore meta, IArtifactStore artifacts, IOptions<RetentionOptions> retention, TimeProvider time, ILogger<ArtifactRetention> logger)
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

        return deleted;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Artifact of snapshot {SnapshotId} cannot be removed: {Reason}; remove it by hand if it still exists")]
    private static partial void LogCannotRemove(ILogger logger, string snapshotId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Artifact of snapshot {SnapshotId} removed from the artifact store (retention)")]
    private static partial void LogRemoved(ILogger logger, string snapshotId);
}

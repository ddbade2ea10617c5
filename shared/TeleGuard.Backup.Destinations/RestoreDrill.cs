using Microsoft.Extensions.Logging;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations;

/// <summary>
/// The restore drill of one destination: fetch the newest snapshot it holds, check every file against the manifest and
/// decode every document (what <c>verify</c> does), and record the result on that snapshot in backups_meta
/// (<c>drills.&lt;destination&gt;</c>). A failure is logged as an error and recorded on the newest snapshot the
/// destination claims to hold.
/// </summary>
public sealed partial class RestoreDrill(BackupsMetaStore meta, ILogger<RestoreDrill> logger)
{
    /// <summary>
    /// The drill a <c>RestoreDrillRequested</c> asks for, in the destination's own service: nothing when the destination
    /// is not configured there. Its outcome is recorded and logged, never thrown: a failed drill is a finding, not a fault.
    /// </summary>
    public async Task RunRequestedAsync(IBackupDestination destination, string slotId, CancellationToken cancellationToken)
    {
        if (!destination.IsEnabled)
        {
            LogNotConfigured(logger, slotId, destination.Name);
            return;
        }

        await RunAsync(destination, cancellationToken);
    }

    public async Task<RestoreDrillResult> RunAsync(IBackupDestination destination, CancellationToken cancellationToken)
    {
        var folder = Path.Combine(Path.GetTempPath(), $"teleguard-drill-{Guid.NewGuid():N}");
        try
        {
            var manifest = await destination.FetchAsync("latest", folder, cancellationToken);
            await SnapshotContent.VerifyAsync(folder, manifest, null, cancellationToken);
            await meta.RecordDrillAsync(manifest.SnapshotId, destination.Name, ok: true, error: null, cancellationToken);
            LogDrillPassed(logger, destination.Name, manifest.SnapshotId);
            return new RestoreDrillResult(destination.Name, manifest.SnapshotId, null);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var error = ErrorText.Describe(e);
            var claimed = destination.Name == CleanupReporter.ArtifactStoreDestination
                ? (await meta.ListRecentAsync(1, cancellationToken)).FirstOrDefault()
                : await meta.FindLatestSucceededAsync(destination.Name, cancellationToken);
            if (claimed is not null)
            {
                await meta.RecordDrillAsync(claimed.Id, destination.Name, ok: false, error, cancellationToken);
            }

            LogDrillFailed(logger, destination.Name, error);
            return new RestoreDrillResult(destination.Name, claimed?.Id, error);
        }
        finally
        {
            FetchedCopy.DeleteScratch(folder, folder + ".git");
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Restore drill {SlotId}: {Destination} is not configured in this service")]
    private static partial void LogNotConfigured(ILogger logger, string slotId, string destination);

    [LoggerMessage(Level = LogLevel.Information, Message = "Restore drill: {Destination} holds snapshot {SnapshotId}, every file verified and every document decoded")]
    private static partial void LogDrillPassed(ILogger logger, string destination, string snapshotId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Restore drill: {Destination} failed: {Error}")]
    private static partial void LogDrillFailed(ILogger logger, string destination, string error);
}

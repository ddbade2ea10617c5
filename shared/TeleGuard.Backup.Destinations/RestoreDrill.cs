using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations;

/// <summary>
/// The restore drill of one destination: fetch the newest snapshot it holds, check every file against the manifest and
/// decode every document (what <c>verify</c> does), and record the result on that snapshot in backups_meta
/// (<c>drills.&lt;destination&gt;</c>). A failure is logged as an error and recorded on the newest snapshot the
/// destination claims to hold. A scheduled drill of a destination that holds increments also checks the change
/// history to its end as a restore to that time would (the snapshot it starts from, every increment, the chain).
/// </summary>
public sealed partial class RestoreDrill(BackupsMetaStore meta, IncrementsStore increments, IOptions<MongoOptions> mongo,
    IOptions<WorkDirectoryOptions> workDirectory, TimeProvider time, ILogger<RestoreDrill> logger)
{
    /// <summary>
    /// How long one scheduled drill may take: well under RabbitMQ's 30-minute limit on an unacknowledged delivery (past
    /// it the broker closes the channel and redelivers, and the drill would start over forever).
    /// </summary>
    public static readonly TimeSpan TimeLimit = TimeSpan.FromMinutes(20);

    /// <summary>
    /// The drill a <c>RestoreDrillRequested</c> asks for, in the destination's own service: nothing when the destination
    /// is not configured there, or when the request waited longer than <see cref="TimeLimit"/> (drills slower than their
    /// schedule would otherwise pile up; a newer request follows). Its outcome is recorded and logged, never thrown: a
    /// failed drill is a finding, not a fault.
    /// </summary>
    public async Task<RestoreDrillResult?> RunRequestedAsync(IBackupDestination destination, RestoreDrillRequested request, CancellationToken cancellationToken)
    {
        if (!destination.IsEnabled)
        {
            LogNotConfigured(logger, request.SlotId, destination.Name);
            return null;
        }

        if (time.GetUtcNow() - request.RequestedAt > TimeLimit)
        {
            LogStale(logger, request.SlotId, destination.Name);
            return null;
        }

        return await RunAsync(destination, cancellationToken, TimeLimit, includeHistory: true);
    }

    /// <summary>
    /// The drill of one destination now; with <paramref name="timeLimit"/>, one that takes longer fails saying so; with
    /// <paramref name="includeHistory"/>, the change history it holds (if any was recorded) is checked too.
    /// </summary>
    public async Task<RestoreDrillResult> RunAsync(IBackupDestination destination, CancellationToken cancellationToken, TimeSpan? timeLimit = null,
        bool includeHistory = false)
    {
        // Under SNAPSHOT_DIR (the volume meant for it), in a folder the next drill removes if this process is killed.
        using var work = WorkFolder.Create(workDirectory.Value.Path, "drills", destination.Name);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (timeLimit is { } duration)
        {
            limit.CancelAfter(duration);
        }

        try
        {
            var manifest = await destination.FetchAsync("latest", Path.Combine(work.Path, "snapshot"), limit.Token);
            await SnapshotContent.VerifyAsync(Path.Combine(work.Path, "snapshot"), manifest, null, limit.Token);
            if (includeHistory && destination is IPointInTimeSource history
                && await increments.FindLatestAsync(mongo.Value.DatabaseName, limit.Token) is not null)
            {
                await CheckHistoryAsync(history, target: null, Path.Combine(work.Path, "history"), limit.Token);
            }

            await meta.RecordDrillAsync(manifest.SnapshotId, destination.Name, ok: true, error: null, cancellationToken);
            LogDrillPassed(logger, destination.Name, manifest.SnapshotId);
            return new RestoreDrillResult(destination.Name, manifest.SnapshotId, null);
        }
        catch (Exception e) when (e is not OperationCanceledException || (limit.IsCancellationRequested && !cancellationToken.IsCancellationRequested))
        {
            var error = e is OperationCanceledException && timeLimit is { } limited
                ? limited.TotalMinutes >= 1
                    ? string.Create(CultureInfo.InvariantCulture, $"did not finish within {limited.TotalMinutes:0.#} minutes")
                    : string.Create(CultureInfo.InvariantCulture, $"did not finish within {limited.TotalSeconds:0.#} seconds")
                : ErrorText.Describe(e);

            // Recorded on the snapshot that is this destination's "latest", never on one still being written.
            var claimed = await destination.FindLatestRecordedAsync(meta, cancellationToken);
            var newlyFailing = true;
            if (claimed is not null)
            {
                newlyFailing = (await meta.GetAsync(claimed, cancellationToken))?.Drills.GetValueOrDefault(destination.Name) is not { Ok: false };
                await meta.RecordDrillAsync(claimed, destination.Name, ok: false, error, cancellationToken);
            }

            LogDrillFailed(logger, destination.Name, error);
            return new RestoreDrillResult(destination.Name, claimed, error) { NewlyFailing = newlyFailing };
        }
    }

    /// <summary>
    /// Fetches and checks the change history up to <paramref name="target"/> (null: its end) as a restore to that time
    /// would, writing nothing; what does not verify throws <see cref="InvalidDataException"/> saying so.
    /// </summary>
    public static async Task<PointInTimeCopy> CheckHistoryAsync(IPointInTimeSource history, ClusterTimestamp? target, string folder, CancellationToken cancellationToken)
    {
        try
        {
            return await history.FetchToTimeAsync(target, folder, cancellationToken);
        }
        catch (Exception e) when (e is InvalidDataException or InvalidOperationException or IOException or ArtifactNotFoundException)
        {
            throw new InvalidDataException($"the change history does not verify: {ErrorText.Describe(e)}", e);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Restore drill {SlotId}: {Destination} skips a request older than the drill's time limit (a newer one follows)")]
    private static partial void LogStale(ILogger logger, string slotId, string destination);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Restore drill {SlotId}: {Destination} is not configured in this service")]
    private static partial void LogNotConfigured(ILogger logger, string slotId, string destination);

    [LoggerMessage(Level = LogLevel.Information, Message = "Restore drill: {Destination} holds snapshot {SnapshotId}, every file verified and every document decoded")]
    private static partial void LogDrillPassed(ILogger logger, string destination, string snapshotId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Restore drill: {Destination} failed: {Error}")]
    private static partial void LogDrillFailed(ILogger logger, string destination, string error);
}

using MassTransit;
using MongoDB.Driver;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Scheduling;

/// <summary>
/// Publishes the request of one cron slot, once across every scheduler instance of a deployment. The slot is claimed in
/// Redis while its request is published and marked requested only once the broker took it: a publish that fails
/// releases the claim (and a scheduler that dies holding it lets it expire), so the slot is asked again, never lost.
/// Claims are keyed by the database being backed up, so deployments sharing one Redis never suppress each other.
/// Without Redis every instance publishes, and the slot id makes the duplicates harmless (one snapshot per id).
/// </summary>
public sealed partial class SlotRequester(
    RedisLocks locks, IPublishEndpoint publish, BackupsMetaStore meta, TimeProvider time, ILogger<SlotRequester> logger)
{
    /// <summary>How long a publish may take before it counts as failed (the broker is unreachable: MassTransit waits for it).</summary>
    public static readonly TimeSpan PublishTimeout = TimeSpan.FromSeconds(30);

    // Longer than recording the request and publishing it can take; what a dead holder blocks the slot for at most.
    private static readonly TimeSpan ClaimHold = TimeSpan.FromMinutes(2);

    // Long enough to outlive any catch-up window; short enough that Redis does not grow.
    private static readonly TimeSpan RequestedMemory = TimeSpan.FromDays(3);

    /// <summary>Throws when the request could not be published; the slot is then free to be requested again.</summary>
    public async Task<SlotRequest> RequestAsync(ScheduleKind kind, DateTimeOffset slot, string reason, CancellationToken cancellationToken)
    {
        var slotId = SnapshotIds.FromTime(slot);
        var key = $"scheduler:{kind.ToString().ToLowerInvariant()}:{slotId}"; // under the deployment's prefix (RedisOptions)
        WorkClaim? claim = null;
        try
        {
            (var state, claim) = await locks.TryClaimWorkAsync(key, ClaimHold, cancellationToken);
            if (state == OnceWork.Done)
            {
                LogAlreadyRequested(logger, kind, slotId);
                return SlotRequest.AlreadyRequested;
            }

            if (state == OnceWork.HeldElsewhere)
            {
                LogBeingRequested(logger, kind, slotId);
                return SlotRequest.InProgressElsewhere;
            }
        }
        catch (RedisUnavailableException)
        {
            LogRequestingWithoutLock(logger, kind, slotId);
        }

        try
        {
            await PublishAsync(kind, slotId, reason, cancellationToken);
        }
        catch (Exception) when (claim is not null)
        {
            await ReleaseQuietlyAsync(claim);
            throw;
        }

        if (claim is not null)
        {
            try
            {
                await locks.MarkDoneAsync(claim, RequestedMemory, CancellationToken.None);
            }
            catch (RedisUnavailableException)
            {
                // The claim expires: at worst another scheduler requests the slot again, which is harmless.
            }
        }

        LogRequested(logger, kind, slotId, reason);
        return SlotRequest.Published;
    }

    private async Task PublishAsync(ScheduleKind kind, string slotId, string reason, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        object message = kind switch
        {
            ScheduleKind.Backup => new SnapshotRequested(slotId, now, reason),
            ScheduleKind.Cleanup => new CleanupRequested(slotId, now, reason),
            _ => new RestoreDrillRequested(slotId, now, reason),
        };
        if (kind == ScheduleKind.Backup)
        {
            await RecordRequestedQuietlyAsync(slotId, now, reason, cancellationToken);
        }

        // While the broker is unreachable MassTransit holds a publish until it is back: give up after the timeout, so
        // that the claim is released and the slot asked again (a held publish that still goes out is a harmless duplicate).
        using var abandon = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            await publish.Publish(message, message.GetType(), abandon.Token).WaitAsync(PublishTimeout, time, cancellationToken);
        }
        finally
        {
            await abandon.CancelAsync();
        }
    }

    private async Task ReleaseQuietlyAsync(WorkClaim claim)
    {
        try
        {
            await locks.ReleaseAsync(claim, CancellationToken.None);
        }
        catch (RedisUnavailableException)
        {
            // The claim expires on its own.
        }
    }

    // The snapshot service records the request too; MongoDB being down must not stop the request itself.
    private async Task RecordRequestedQuietlyAsync(string slotId, DateTimeOffset now, string reason, CancellationToken cancellationToken)
    {
        try
        {
            await meta.RecordRequestedAsync(slotId, now, reason, cancellationToken);
        }
        catch (Exception e) when (e is MongoException or TimeoutException)
        {
            LogRecordRequestFailed(logger, slotId, ErrorText.Describe(e));
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Kind} slot {SlotId} already requested by another scheduler")]
    private static partial void LogAlreadyRequested(ILogger logger, ScheduleKind kind, string slotId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Kind} slot {SlotId} is being requested by another scheduler")]
    private static partial void LogBeingRequested(ILogger logger, ScheduleKind kind, string slotId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis unavailable: requesting {Kind} slot {SlotId} without a lock (duplicates are harmless)")]
    private static partial void LogRequestingWithoutLock(ILogger logger, ScheduleKind kind, string slotId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Requested {Kind} for slot {SlotId} ({Reason})")]
    private static partial void LogRequested(ILogger logger, ScheduleKind kind, string slotId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record the request of {SlotId} in backups_meta: {Error}")]
    private static partial void LogRecordRequestFailed(ILogger logger, string slotId, string error);
}

using MassTransit;
using MongoDB.Driver;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Snapshots;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Scheduler;

public enum ScheduleKind
{
    Backup,
    Cleanup,
}

/// <summary>
/// Publishes the request of one cron slot, at most once across every scheduler instance: the first instance to claim
/// the slot in Redis publishes. Without Redis every instance publishes, and the slot id makes the duplicates harmless
/// (one snapshot per id downstream).
/// </summary>
public sealed class SlotRequester(RedisLocks locks, IPublishEndpoint publish, BackupsMetaStore meta, ILogger<SlotRequester> logger)
{
    // Long enough to outlive any catch-up window; short enough that Redis does not grow.
    private static readonly TimeSpan ClaimLifetime = TimeSpan.FromDays(3);

    /// <returns>true when this instance published the request.</returns>
    public async Task<bool> RequestAsync(ScheduleKind kind, DateTimeOffset slot, string reason, CancellationToken cancellationToken)
    {
        var slotId = SnapshotIds.FromTime(slot);
        var key = $"scheduler:{kind.ToString().ToLowerInvariant()}:{slotId}";
        try
        {
            if (!await locks.TryClaimOnceAsync(key, ClaimLifetime, cancellationToken))
            {
                logger.LogDebug("{Kind} slot {SlotId} already requested by another scheduler", kind, slotId);
                return false;
            }
        }
        catch (RedisUnavailableException)
        {
            logger.LogWarning("Redis unavailable: requesting {Kind} slot {SlotId} without a lock (duplicates are harmless)", kind, slotId);
        }

        var now = DateTimeOffset.UtcNow;
        if (kind == ScheduleKind.Backup)
        {
            await RecordRequestedQuietlyAsync(slotId, now, reason, cancellationToken);
            await publish.Publish(new SnapshotRequested(slotId, now, reason), cancellationToken);
        }
        else
        {
            await publish.Publish(new CleanupRequested(slotId, now, reason), cancellationToken);
        }

        logger.LogInformation("Requested {Kind} for slot {SlotId} ({Reason})", kind, slotId, reason);
        return true;
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
            logger.LogWarning("Could not record the request of {SlotId} in backups_meta: {Error}", slotId, ErrorText.Describe(e));
        }
    }
}

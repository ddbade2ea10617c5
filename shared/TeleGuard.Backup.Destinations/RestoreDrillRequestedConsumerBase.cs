using MassTransit;
using TeleGuard.Backup.Contracts;

namespace TeleGuard.Backup.Destinations;

/// <summary>
/// The scheduled restore drill of one destination, run by that destination's own service with its own configuration.
/// A drill that fails where the last drill of that snapshot passed (or there was none) raises an alert, so an operator
/// hears of a copy that no longer restores once, not every slot.
/// </summary>
public abstract class RestoreDrillRequestedConsumerBase<TDestination>(TDestination destination, RestoreDrill drill) : IConsumer<RestoreDrillRequested>
    where TDestination : IBackupDestination
{
    public async Task Consume(ConsumeContext<RestoreDrillRequested> context)
    {
        if (await drill.RunRequestedAsync(destination, context.Message, context.CancellationToken) is { Ok: false, NewlyFailing: true } failed)
        {
            await context.Publish(new BackupAlertRaised($"drill:{failed.Destination}:{failed.SnapshotId ?? "none"}", "drill", failed.SnapshotId,
                $"TeleGuard backup: the restore drill of {failed.Destination} failed{(failed.SnapshotId is null ? "" : $" on snapshot {failed.SnapshotId}")}: {failed.Error}",
                DateTimeOffset.UtcNow), context.CancellationToken);
        }
    }
}

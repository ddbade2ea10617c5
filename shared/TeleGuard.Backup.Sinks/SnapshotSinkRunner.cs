using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MongoDB.Bson;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Sinks;

/// <summary>
/// The frame of every sink's <see cref="SnapshotCreated"/> consumer: a disabled sink records <c>skipped</c>; a copy
/// already recorded as succeeded is not made again (redelivery); one instance at a time works on a snapshot (a lease in
/// backups_meta, renewed while it works, taken over when its holder died); each attempt is counted; a failure that will
/// be retried keeps its error, the last one records <c>failed</c>, and success records where the copy is.
/// </summary>
public sealed class SnapshotSinkRunner(
    BackupsMetaStore meta, IOptions<BusOptions> bus, IOptions<SinkLeaseOptions> leaseOptions, BackupMetrics metrics, ILogger<SnapshotSinkRunner> logger)
{
    // One owner per sink instance: its own redelivery may take its lease back at once, another instance must wait.
    private readonly string _owner = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}"[..^24];

    /// <param name="copy">Makes the copy and returns where it is; runs only when enabled and not yet done.</param>
    public async Task RunAsync(
        string sink, bool enabled, ConsumeContext<SnapshotCreated> context, Func<CancellationToken, Task<BsonDocument>> copy)
    {
        var id = context.Message.SnapshotId;
        var cancellationToken = context.CancellationToken;
        if (!enabled)
        {
            await meta.RecordSinkOutcomeAsync(id, sink, SinkStatus.Skipped, null, null, cancellationToken);
            metrics.SinkOutcome(sink, SinkStatus.Skipped, TimeSpan.Zero);
            logger.LogInformation("{Sink}: disabled (no configuration); snapshot {SnapshotId} skipped", sink, id);
            return;
        }

        if (!await ClaimAsync(sink, context))
        {
            return;
        }

        var started = System.Diagnostics.Stopwatch.StartNew();
        using var renewal = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var renewing = RenewWhileCopyingAsync(id, sink, renewal.Token);
        try
        {
            var location = await copy(cancellationToken);
            await StopAsync(renewal, renewing);
            await meta.RecordSinkOutcomeAsync(id, sink, SinkStatus.Succeeded, null, location, cancellationToken);
            metrics.SinkOutcome(sink, SinkStatus.Succeeded, started.Elapsed);
            logger.LogInformation("{Sink}: snapshot {SnapshotId} copied: {Location}", sink, id, location.ToString());
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            await StopAsync(renewal, renewing);
            var error = ErrorText.Describe(e);
            var final = e is PermanentFailureException || context.GetRetryAttempt() >= bus.Value.RetryLimit;
            if (final)
            {
                await meta.RecordSinkOutcomeAsync(id, sink, SinkStatus.Failed, error, null, CancellationToken.None);
                metrics.SinkOutcome(sink, SinkStatus.Failed, started.Elapsed);
                logger.LogError("{Sink}: snapshot {SnapshotId} failed: {Error}", sink, id, error);
            }
            else
            {
                await meta.RecordSinkErrorAsync(id, sink, error, CancellationToken.None);
                logger.LogWarning("{Sink}: snapshot {SnapshotId} attempt failed, will retry: {Error}", sink, id, error);
            }

            throw;
        }
    }

    // True when this delivery makes the copy; false when the copy exists. Waits while another live instance works on it.
    private async Task<bool> ClaimAsync(string sink, ConsumeContext<SnapshotCreated> context)
    {
        var id = context.Message.SnapshotId;
        var settings = leaseOptions.Value;
        var deadline = DateTime.UtcNow + settings.MaxWait;
        var logged = false;
        while (true)
        {
            var claim = await meta.TryClaimSinkAsync(id, sink, _owner, settings.Lease, context.CancellationToken);
            switch (claim)
            {
                case SinkClaim.Acquired:
                    return true;
                case SinkClaim.AlreadySucceeded:
                    var existing = (await meta.GetAsync(id, context.CancellationToken))?.Sinks.GetValueOrDefault(sink);
                    logger.LogInformation("{Sink}: snapshot {SnapshotId} already copied ({Location}); nothing to do", sink, id, existing?.Location?.ToString());
                    return false;
                case SinkClaim.NoRecord:
                    // An announcement backups_meta does not know (lost write, or a message from elsewhere): record it so
                    // that its outcome, whatever it is, is visible.
                    await meta.RecordRequestedAsync(id, context.Message.CreatedAt, "announced", context.CancellationToken);
                    continue;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{sink}: another instance has been copying snapshot {id} for longer than {settings.MaxWait.TotalMinutes:0} min.");
            }

            if (!logged)
            {
                logger.LogInformation("{Sink}: another instance is copying snapshot {SnapshotId}; waiting for it (or for its lease to expire)", sink, id);
                logged = true;
            }

            await Task.Delay(TimeSpan.FromSeconds(1), context.CancellationToken);
        }
    }

    private async Task RenewWhileCopyingAsync(string id, string sink, CancellationToken cancellationToken)
    {
        var lease = leaseOptions.Value.Lease;
        try
        {
            while (true)
            {
                await Task.Delay(lease / 3, cancellationToken);
                try
                {
                    if (!await meta.RenewSinkLeaseAsync(id, sink, _owner, lease, cancellationToken))
                    {
                        logger.LogWarning("{Sink}: lost the lease on snapshot {SnapshotId} (expired while MongoDB was unreachable?)", sink, id);
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning("{Sink}: could not renew the lease on snapshot {SnapshotId}: {Error}", sink, id, e.GetType().Name);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The copy ended.
        }
    }

    private static async Task StopAsync(CancellationTokenSource renewal, Task renewing)
    {
        await renewal.CancelAsync();
        await renewing;
    }
}

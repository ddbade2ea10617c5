using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations;

/// <summary>
/// The frame of every sink's <see cref="SnapshotCreated"/> consumer: a disabled sink records <c>skipped</c>; a copy
/// already recorded as succeeded is not made again (redelivery); one attempt at a time works on a snapshot (a lease in
/// backups_meta held by that attempt, renewed while it works, taken over when its holder died); each attempt is
/// counted; a failure that will be retried keeps its error, the last one records <c>failed</c>, and success records
/// where the copy is. An attempt whose lease another instance took over stops at once and records nothing.
/// </summary>
public sealed partial class SnapshotSinkRunner(
    BackupsMetaStore meta, IOptions<BusOptions> bus, IOptions<SinkLeaseOptions> leaseOptions, BackupMetrics metrics, ILogger<SnapshotSinkRunner> logger)
{
    /// <param name="copy">Makes the copy and returns where it is; runs only when enabled and not yet done.</param>
    public Task RunAsync<TLocation>(string sink, bool enabled, ConsumeContext<SnapshotCreated> context, Func<CancellationToken, Task<TLocation>> copy)
        where TLocation : SinkLocation =>
        RunAsync(sink, enabled, context, (_, cancellationToken) => copy(cancellationToken));

    /// <param name="copy">
    /// Makes the copy and returns where it is; runs only when enabled and not yet done. It gets the attempt's lease owner
    /// (for writes only the holder may make, <see cref="BackupsMetaStore.UpdateSinkProgressAsync"/>) and a token that is
    /// cancelled when the lease is lost.
    /// </param>
    public async Task RunAsync<TLocation>(
        string sink, bool enabled, ConsumeContext<SnapshotCreated> context, Func<string, CancellationToken, Task<TLocation>> copy)
        where TLocation : SinkLocation
    {
        var id = context.Message.SnapshotId;
        var cancellationToken = context.CancellationToken;
        if (!enabled)
        {
            await meta.RecordSinkOutcomeAsync(id, sink, SinkStatus.Skipped, null, null, cancellationToken);
            metrics.SinkOutcome(sink, SinkStatus.Skipped, TimeSpan.Zero);
            LogDisabled(logger, sink, id);
            return;
        }

        // One owner per attempt: a redelivery of a message whose copy is being made (in this process too) waits for it.
        var owner = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}";
        if (!await ClaimAsync(sink, owner, context))
        {
            return;
        }

        var started = System.Diagnostics.Stopwatch.StartNew();
        using var leaseHeld = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var stopRenewing = new CancellationTokenSource();
        var renewing = RenewWhileCopyingAsync(id, sink, owner, leaseHeld, stopRenewing.Token);
        try
        {
            var location = await copy(owner, leaseHeld.Token);
            if (await StopAsync(stopRenewing, renewing))
            {
                throw new SinkLeaseLostException(sink, id);
            }

            await meta.RecordSinkOutcomeAsync(id, sink, SinkStatus.Succeeded, null, location, cancellationToken);
            metrics.SinkOutcome(sink, SinkStatus.Succeeded, started.Elapsed);
            var copiedTo = location.ToString(); // its JSON text
            LogCopied(logger, sink, id, copiedTo);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            if (await StopAsync(stopRenewing, renewing) || e is SinkLeaseLostException)
            {
                // The instance that holds the lease now makes the copy and records its outcome.
                LogTakenOver(logger, sink, id);
                throw e as SinkLeaseLostException ?? new SinkLeaseLostException(sink, id);
            }

            var error = ErrorText.Describe(e);
            var final = e is PermanentFailureException || context.GetRetryAttempt() >= bus.Value.RetryLimit;
            if (final)
            {
                await meta.RecordSinkOutcomeAsync(id, sink, SinkStatus.Failed, error, null, CancellationToken.None);
                metrics.SinkOutcome(sink, SinkStatus.Failed, started.Elapsed);
                LogFailed(logger, sink, id, error);
            }
            else
            {
                await meta.RecordSinkErrorAsync(id, sink, error, CancellationToken.None);
                LogAttemptFailed(logger, sink, id, error);
            }

            throw;
        }
    }

    // True when this delivery makes the copy; false when the copy exists. Waits while another live instance works on it.
    private async Task<bool> ClaimAsync(string sink, string owner, ConsumeContext<SnapshotCreated> context)
    {
        var id = context.Message.SnapshotId;
        var settings = leaseOptions.Value;
        var deadline = DateTime.UtcNow + settings.MaxWait;
        var logged = false;
        while (true)
        {
            var claim = await meta.TryClaimSinkAsync(id, sink, owner, settings.Lease, context.CancellationToken);
            switch (claim)
            {
                case SinkClaim.Acquired:
                    return true;
                case SinkClaim.AlreadySucceeded:
                    var existing = (await meta.GetAsync(id, context.CancellationToken))?.Sinks.GetValueOrDefault(sink);
                    var copiedTo = existing?.LocationDocument?.ToString();
                    LogAlreadyCopied(logger, sink, id, copiedTo);
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
                LogWaitingForOtherInstance(logger, sink, id);
                logged = true;
            }

            await Task.Delay(TimeSpan.FromSeconds(1), context.CancellationToken);
        }
    }

    // Renews the lease while the copy is made. Refused (another instance holds it now): the copy is cancelled and true
    // returned. Not answered (MongoDB unreachable): the copy goes on, its results wait in Redis.
    private async Task<bool> RenewWhileCopyingAsync(string id, string sink, string owner, CancellationTokenSource copying, CancellationToken stop)
    {
        var lease = leaseOptions.Value.Lease;
        try
        {
            while (true)
            {
                await Task.Delay(lease / 3, stop);
                try
                {
                    if (!await meta.RenewSinkLeaseAsync(id, sink, owner, lease, stop))
                    {
                        LogLeaseLost(logger, sink, id);
                        await copying.CancelAsync();
                        return true;
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogRenewFailed(logger, sink, id, e.GetType().Name);
                }
            }
        }
        catch (OperationCanceledException)
        {
            return false; // the copy ended
        }
    }

    /// <returns>Whether the lease was lost while copying.</returns>
    private static async Task<bool> StopAsync(CancellationTokenSource stopRenewing, Task<bool> renewing)
    {
        await stopRenewing.CancelAsync();
        return await renewing;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Sink}: disabled (no configuration); snapshot {SnapshotId} skipped")]
    private static partial void LogDisabled(ILogger logger, string sink, string snapshotId);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Sink}: snapshot {SnapshotId} copied: {Location}")]
    private static partial void LogCopied(ILogger logger, string sink, string snapshotId, string location);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Sink}: snapshot {SnapshotId}: another instance took over; this attempt stopped and recorded nothing")]
    private static partial void LogTakenOver(ILogger logger, string sink, string snapshotId);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Sink}: snapshot {SnapshotId} failed: {Error}")]
    private static partial void LogFailed(ILogger logger, string sink, string snapshotId, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Sink}: snapshot {SnapshotId} attempt failed, will retry: {Error}")]
    private static partial void LogAttemptFailed(ILogger logger, string sink, string snapshotId, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Sink}: snapshot {SnapshotId} already copied ({Location}); nothing to do")]
    private static partial void LogAlreadyCopied(ILogger logger, string sink, string snapshotId, string? location);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Sink}: another instance is copying snapshot {SnapshotId}; waiting for it (or for its lease to expire)")]
    private static partial void LogWaitingForOtherInstance(ILogger logger, string sink, string snapshotId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Sink}: lost the lease on snapshot {SnapshotId} to another instance; stopping the copy")]
    private static partial void LogLeaseLost(ILogger logger, string sink, string snapshotId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Sink}: could not renew the lease on snapshot {SnapshotId}: {Error}")]
    private static partial void LogRenewFailed(ILogger logger, string sink, string snapshotId, string error);
}

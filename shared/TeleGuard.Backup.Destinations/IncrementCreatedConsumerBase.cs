using MassTransit;
using Microsoft.Extensions.Logging;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace TeleGuard.Backup.Destinations;

/// <summary>
/// Copies each increment to one destination and records the outcome on the increment's record in backups_meta
/// (<c>sinks.NAME</c>): running with the attempt counted, then succeeded with the location, or the error (failed once
/// retrying is over). Each destination has its own queue: a failing increment never holds up the snapshot copies.
/// An increment that arrives before its predecessor is copied here waits for the predecessor's outcome in backups_meta
/// (not on the retry budget, which a slow predecessor's own retries outlast), up to <see cref="SinkLeaseOptions.IncrementWait"/>;
/// a delivery of an increment already recorded as copied here changes nothing (after compaction removed its files, a
/// redelivery would otherwise put them back).
/// </summary>
public abstract partial class IncrementCreatedConsumerBase(
    IncrementsStore increments,
    BusOptions bus,
    SinkLeaseOptions lease,
    TimeProvider time,
    ILogger logger) : IConsumer<IncrementCreated>
{
    private static readonly TimeSpan PredecessorPollInterval = TimeSpan.FromSeconds(1);

    /// <summary>The sink's name in backups_meta (<see cref="BackupSinks"/>).</summary>
    protected abstract string Sink { get; }

    protected abstract bool Enabled { get; }

    /// <param name="predecessorFailed">The previous increment of the chain failed for good here: it will never be copied, so this one does not wait for it.</param>
    protected abstract Task<SinkLocation> PublishAsync(IncrementCreated increment, bool predecessorFailed, CancellationToken cancellationToken);

    public async Task Consume(ConsumeContext<IncrementCreated> context)
    {
        var increment = context.Message;
        var cancellationToken = context.CancellationToken;
        if (!Enabled)
        {
            await increments.RecordSinkOutcomeAsync(increment.IncrementId, Sink, SinkStatus.Skipped, null, null, Now, cancellationToken);
            return;
        }

        if ((await increments.GetAsync(increment.IncrementId, cancellationToken))?.Sinks.GetValueOrDefault(Sink)?.Status == SinkStatus.Succeeded)
        {
            LogAlreadyCopied(logger, Sink, increment.IncrementId);
            return;
        }

        await increments.RecordSinkAttemptAsync(increment.IncrementId, Sink, Now, cancellationToken);
        try
        {
            var location = await PublishInOrderAsync(increment, cancellationToken);
            await increments.RecordSinkOutcomeAsync(increment.IncrementId, Sink, SinkStatus.Succeeded, null, location, Now, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            var error = ErrorText.Describe(e);
            if (e is PermanentFailureException || context.GetRetryAttempt() >= bus.RetryLimit)
            {
                await increments.RecordSinkOutcomeAsync(increment.IncrementId, Sink, SinkStatus.Failed, error, null, Now, CancellationToken.None);
                LogFailed(logger, Sink, increment.IncrementId, error);
            }
            else
            {
                await increments.RecordSinkErrorAsync(increment.IncrementId, Sink, error, CancellationToken.None);
            }

            throw;
        }
    }

    private DateTime Now => time.GetUtcNow().UtcDateTime;

    /// <summary>
    /// Publishes once the predecessor is here or will never be: while the predecessor's outcome here is open (not yet
    /// delivered, running, retrying), this delivery waits for it. A predecessor that failed or was skipped here is never
    /// copied: this one goes ahead (the destination's window breaks there until the next snapshot, as it must). One that
    /// is recorded as copied but is not on the branch (removed since) is not waited for either.
    /// </summary>
    private async Task<SinkLocation> PublishInOrderAsync(IncrementCreated increment, CancellationToken cancellationToken)
    {
        var waitUntil = time.GetUtcNow() + lease.IncrementWait;
        var predecessor = await PredecessorStatusAsync(increment, cancellationToken);
        while (true)
        {
            try
            {
                return await PublishAsync(increment, predecessor is SinkStatus.Failed or SinkStatus.Skipped, cancellationToken);
            }
            catch (IncrementOutOfOrderException e)
            {
                if (predecessor == SinkStatus.Succeeded)
                {
                    LogPredecessorGone(logger, Sink, increment.IncrementId);
                    predecessor = SinkStatus.Failed;
                    continue;
                }

                await increments.RecordSinkErrorAsync(increment.IncrementId, Sink, e.Message, CancellationToken.None);
                while (!SinkStatus.IsFinal(predecessor = await PredecessorStatusAsync(increment, cancellationToken)))
                {
                    if (time.GetUtcNow() >= waitUntil)
                    {
                        throw new PermanentFailureException(
                            $"{e.Message} It waited {lease.IncrementWait.TotalSeconds:F0} s ({SinkLeaseOptions.IncrementWaitVariable}) and the predecessor's copy here is still {predecessor ?? "not started"}.");
                    }

                    await Task.Delay(PredecessorPollInterval, time, cancellationToken);
                }
            }
        }
    }

    /// <summary>The previous increment's status at this destination; null for the first of a chain or when not yet delivered here.</summary>
    private async Task<string?> PredecessorStatusAsync(IncrementCreated increment, CancellationToken cancellationToken) =>
        increment.Sequence > 1
            ? (await increments.GetAsync(IncrementManifest.IdOf(increment.Chain, increment.Sequence - 1), cancellationToken))?.Sinks.GetValueOrDefault(Sink)?.Status
            : null;

    [LoggerMessage(Level = LogLevel.Information, Message = "{Sink}: increment {IncrementId} was already copied; nothing to do")]
    private static partial void LogAlreadyCopied(ILogger logger, string sink, string incrementId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Sink}: increment {IncrementId} goes ahead without its predecessor, which is recorded as copied but is not on the branch (removed since)")]
    private static partial void LogPredecessorGone(ILogger logger, string sink, string incrementId);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Sink}: increment {IncrementId} could not be copied: {Error}")]
    private static partial void LogFailed(ILogger logger, string sink, string incrementId, string error);
}

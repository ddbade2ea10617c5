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
/// </summary>
public abstract partial class IncrementCreatedConsumerBase(
    IncrementsStore increments,
    BusOptions bus,
    TimeProvider time,
    ILogger logger) : IConsumer<IncrementCreated>
{
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

        await increments.RecordSinkAttemptAsync(increment.IncrementId, Sink, Now, cancellationToken);
        try
        {
            var location = await PublishAsync(increment, await PredecessorFailedAsync(increment, cancellationToken), cancellationToken);
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

    private async Task<bool> PredecessorFailedAsync(IncrementCreated increment, CancellationToken cancellationToken) =>
        increment.Sequence > 1
        && (await increments.GetAsync(IncrementManifest.IdOf(increment.Chain, increment.Sequence - 1), cancellationToken))
            ?.Sinks.GetValueOrDefault(Sink)?.Status == SinkStatus.Failed;

    [LoggerMessage(Level = LogLevel.Error, Message = "{Sink}: increment {IncrementId} could not be copied: {Error}")]
    private static partial void LogFailed(ILogger logger, string sink, string incrementId, string error);
}

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
/// already recorded as succeeded is not made again (redelivery); each attempt is counted; a failure that will be
/// retried keeps its error, the last one records <c>failed</c>, and success records where the copy is.
/// </summary>
public sealed class SnapshotSinkRunner(BackupsMetaStore meta, IOptions<BusOptions> bus, BackupMetrics metrics, ILogger<SnapshotSinkRunner> logger)
{
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

        var existing = (await meta.GetAsync(id, cancellationToken))?.Sinks.GetValueOrDefault(sink);
        if (existing?.Status == SinkStatus.Succeeded)
        {
            logger.LogInformation("{Sink}: snapshot {SnapshotId} already copied ({Location}); nothing to do", sink, id, existing.Location);
            return;
        }

        await meta.RecordSinkAttemptAsync(id, sink, cancellationToken);
        var started = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            var location = await copy(cancellationToken);
            await meta.RecordSinkOutcomeAsync(id, sink, SinkStatus.Succeeded, null, location, cancellationToken);
            metrics.SinkOutcome(sink, SinkStatus.Succeeded, started.Elapsed);
            logger.LogInformation("{Sink}: snapshot {SnapshotId} copied: {Location}", sink, id, location);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
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
}

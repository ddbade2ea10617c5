using MassTransit;
using Microsoft.Extensions.Logging;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace TeleGuard.Backup.Destinations;

/// <summary>
/// Copies each increment to one destination, in chain order, and records the outcome on the increment's record in
/// backups_meta (<c>sinks.NAME</c>): running with the attempt counted, then succeeded with the location, or the error
/// (failed once retrying is over). Each destination has its own queue: a failing increment never holds up the
/// snapshot copies.
/// <para>
/// Order: an increment whose predecessor has no outcome here yet is parked (<c>waiting</c>) and its delivery
/// acknowledged, so that no delivery is held while another one is slow (RabbitMQ closes a channel that holds one
/// for 30 minutes, and held deliveries could fill every concurrent slot before the predecessor's). The consumer that
/// records the predecessor's outcome then sends the parked increment to this queue again. Both sides write before
/// they read (park, then look at the predecessor; record the outcome, then look at the successor), so one of them
/// sees the other. Whatever still goes wrong (a crash or a failed send between an outcome and its wake-up, a
/// predecessor whose message was lost) is repaired each time a later increment parks: the line's first increment is
/// sent again when the one it waits for has an outcome, and the one it waits for is announced here again when it has
/// shown no progress for <see cref="SinkLeaseOptions.IncrementWait"/>. Each of those sends is claimed in backups_meta
/// first, so that a backlog of parking deliveries sends it once, not once each. An increment announced again whose own
/// predecessor never arrived either goes ahead without it (one hole, instead of walking the line back one wait at a
/// time). Nothing is counted as failed for waiting: an increment fails only by its own copy failing.
/// </para>
/// A delivery of an increment already recorded as copied here changes nothing (after compaction removed its files, a
/// redelivery would otherwise put them back).
/// </summary>
public abstract partial class IncrementCreatedConsumerBase(
    IncrementsStore increments,
    BusOptions bus,
    SinkLeaseOptions lease,
    TimeProvider time,
    ILogger logger) : IConsumer<IncrementCreated>
{
    // Marks an announcement sent again because the increment never arrived here (see RepairWaitingLineAsync).
    private const string AnnouncedAgainHeader = "TeleGuard-Announced-Again";

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
            await WakeSuccessorAsync(context, increment, cancellationToken); // one parked before the destination was disabled
            return;
        }

        if ((await increments.GetAsync(increment.IncrementId, cancellationToken))?.Sinks.GetValueOrDefault(Sink)?.Status == SinkStatus.Succeeded)
        {
            LogAlreadyCopied(logger, Sink, increment.IncrementId);
            await WakeSuccessorAsync(context, increment, cancellationToken);
            return;
        }

        var predecessor = await PredecessorOutcomeAsync(context, increment, cancellationToken);
        if (predecessor is null)
        {
            return; // parked: the predecessor's outcome sends it again
        }

        await increments.RecordSinkAttemptAsync(increment.IncrementId, Sink, Now, cancellationToken);
        try
        {
            SinkLocation location;
            try
            {
                location = await PublishAsync(increment, predecessor is SinkStatus.Failed or SinkStatus.Skipped, cancellationToken);
            }
            catch (IncrementOutOfOrderException e) when (predecessor == SinkStatus.Succeeded)
            {
                // Recorded as copied but not on the branch: removed since, by compaction (which removes increments
                // by their end, so this one may still be needed after the kept snapshot) or a rewrite. Waiting cannot
                // bring it back; this one goes on the branch, and a restore across the missing one is refused there.
                LogPredecessorGone(logger, Sink, increment.IncrementId, e.Message);
                location = await PublishAsync(increment, predecessorFailed: true, cancellationToken);
            }

            await increments.RecordSinkOutcomeAsync(increment.IncrementId, Sink, SinkStatus.Succeeded, null, location, Now, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            var error = ErrorText.Describe(e);
            if (e is PermanentFailureException || context.GetRetryAttempt() >= bus.RetryLimit)
            {
                await increments.RecordSinkOutcomeAsync(increment.IncrementId, Sink, SinkStatus.Failed, error, null, Now, CancellationToken.None);
                LogFailed(logger, Sink, increment.IncrementId, error);
                await WakeSuccessorAsync(context, increment, CancellationToken.None);
            }
            else
            {
                await increments.RecordSinkErrorAsync(increment.IncrementId, Sink, error, CancellationToken.None);
            }

            throw;
        }

        await WakeSuccessorAsync(context, increment, cancellationToken);
    }

    private DateTime Now => time.GetUtcNow().UtcDateTime;

    /// <summary>
    /// The predecessor's outcome here (succeeded, failed, skipped; <c>failed</c> also when it has no record in
    /// backups_meta at all), or null when this increment was parked to wait for it.
    /// </summary>
    private async Task<string?> PredecessorOutcomeAsync(ConsumeContext context, IncrementCreated increment, CancellationToken cancellationToken)
    {
        if (increment.Sequence <= 1)
        {
            return SinkStatus.Succeeded; // the first of a chain follows its snapshot, not an increment
        }

        var predecessorId = IncrementManifest.IdOf(increment.Chain, increment.Sequence - 1);
        var status = await StatusAsync(predecessorId, cancellationToken);
        if (status is null || SinkStatus.IsFinal(status))
        {
            return status ?? SinkStatus.Failed; // no record at all: nothing will ever come to wait for
        }

        if (status.Length == 0 && context.Headers.TryGetHeader(AnnouncedAgainHeader, out _))
        {
            // Announced again because it never arrived, and its own predecessor never arrived either (lost too, or this
            // destination started mid-chain): waiting for that one too would walk the line back one period at a time.
            LogGoesAheadWithout(logger, Sink, increment.IncrementId, predecessorId);
            return SinkStatus.Failed;
        }

        await increments.RecordSinkWaitingAsync(increment.IncrementId, Sink, $"Increment {increment.IncrementId} waits for {predecessorId}, which has no outcome at this destination yet.",
            Now, cancellationToken);
        status = await StatusAsync(predecessorId, cancellationToken);
        if (status is null || SinkStatus.IsFinal(status))
        {
            return status ?? SinkStatus.Failed; // settled meanwhile (its consumer may also send this one again: harmless)
        }

        LogParked(logger, Sink, increment.IncrementId, predecessorId);
        await RepairWaitingLineAsync(context, increment, cancellationToken);
        return (await StatusAsync(predecessorId, cancellationToken)) is { } settled && SinkStatus.IsFinal(settled) ? settled : null;
    }

    /// <summary>
    /// Repairs the line of increments parked before this one: finds the increment it waits for (the last one of the chain
    /// before it that is not parked) and the first of the line. If the awaited one has an outcome, the first of the line
    /// missed its wake-up: it is sent again. If it has none and has shown no progress here for the allowed wait (its
    /// message lost, or it failed before recording anything), it is announced here again.
    /// </summary>
    private async Task RepairWaitingLineAsync(ConsumeContext context, IncrementCreated increment, CancellationToken cancellationToken)
    {
        var awaited = await increments.FindLastNotWaitingBeforeAsync(increment.Chain, increment.Sequence, Sink, cancellationToken);
        if (awaited is null || await increments.GetAsync(IncrementManifest.IdOf(awaited.Chain, awaited.Sequence + 1), cancellationToken) is not { } first
            || first.Id == increment.IncrementId && SinkStatus.IsFinal(awaited.Sinks.GetValueOrDefault(Sink)?.Status))
        {
            return; // nothing parked before this one, or this one is the first of the line and looks again itself
        }

        var copy = awaited.Sinks.GetValueOrDefault(Sink);
        if (SinkStatus.IsFinal(copy?.Status))
        {
            if (await increments.TryClaimWakeAsync(first.Id, Sink, Now, Now - lease.IncrementWait, cancellationToken))
            {
                LogWokenAgain(logger, Sink, first.Id, awaited.Id);
                await SendAgainAsync(context, first, announcedAgain: false, cancellationToken);
            }

            return;
        }

        var lastProgress = new[] { copy?.At, first.Sinks.GetValueOrDefault(Sink)?.WaitingSince }.Max();
        if (lastProgress is { } since && Now - since >= lease.IncrementWait
            && await increments.TryClaimAnnouncementAgainAsync(awaited.Id, Sink, Now, Now - lease.IncrementWait, cancellationToken))
        {
            LogAnnouncedAgain(logger, Sink, awaited.Id, lease.IncrementWait.TotalSeconds);
            await SendAgainAsync(context, awaited, announcedAgain: true, cancellationToken);
        }
    }

    /// <summary>
    /// The next increment of the chain, if it is parked here, goes to this queue again now that this one has its
    /// outcome: once, whoever asks (a backlog's deliveries and redeliveries would otherwise each send it again).
    /// </summary>
    private async Task WakeSuccessorAsync(ConsumeContext context, IncrementCreated increment, CancellationToken cancellationToken)
    {
        var successor = await increments.GetAsync(IncrementManifest.IdOf(increment.Chain, increment.Sequence + 1), cancellationToken);
        if (successor?.Sinks.GetValueOrDefault(Sink)?.Status == SinkStatus.Waiting
            && await increments.TryClaimWakeAsync(successor.Id, Sink, Now, Now - lease.IncrementWait, cancellationToken))
        {
            await SendAgainAsync(context, successor, announcedAgain: false, cancellationToken);
        }
    }

    /// <summary>To this destination's own queue only: the other destinations have their copy already.</summary>
    private static async Task SendAgainAsync(ConsumeContext context, IncrementRecord record, bool announcedAgain, CancellationToken cancellationToken)
    {
        var queue = await context.GetSendEndpoint(context.ReceiveContext.InputAddress);
        await queue.Send(IncrementAnnouncement.Of(record), send =>
        {
            if (announcedAgain)
            {
                send.Headers.Set(AnnouncedAgainHeader, "true");
            }
        }, cancellationToken);
    }

    private async Task<string?> StatusAsync(string incrementId, CancellationToken cancellationToken) =>
        await increments.GetAsync(incrementId, cancellationToken) is { } record ? record.Sinks.GetValueOrDefault(Sink)?.Status ?? "" : null;

    [LoggerMessage(Level = LogLevel.Error, Message = "{Sink}: increment {IncrementId} could not be copied: {Error}")]
    private static partial void LogFailed(ILogger logger, string sink, string incrementId, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Sink}: increment {IncrementId} was already copied; nothing to do")]
    private static partial void LogAlreadyCopied(ILogger logger, string sink, string incrementId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Sink}: increment {IncrementId} missed its wake-up after {PredecessorId}'s outcome; sent again")]
    private static partial void LogWokenAgain(ILogger logger, string sink, string incrementId, string predecessorId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Sink}: increment {IncrementId} showed no progress here for {Seconds} s while later ones wait for it; announced here again")]
    private static partial void LogAnnouncedAgain(ILogger logger, string sink, string incrementId, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Sink}: increment {IncrementId} is copied although its predecessor, recorded as copied, is no longer on the branch: {Reason}")]
    private static partial void LogPredecessorGone(ILogger logger, string sink, string incrementId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Sink}: increment {IncrementId}, announced again, goes ahead without {PredecessorId}, which never reached this destination either")]
    private static partial void LogGoesAheadWithout(ILogger logger, string sink, string incrementId, string predecessorId);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Sink}: increment {IncrementId} waits for {PredecessorId}")]
    private static partial void LogParked(ILogger logger, string sink, string incrementId, string predecessorId);
}

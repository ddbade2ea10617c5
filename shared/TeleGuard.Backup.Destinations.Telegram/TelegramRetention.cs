using Microsoft.Extensions.Options;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>
/// Deletes the channel messages of snapshots older than <c>RETENTION_HOURS</c>, except the newest snapshot whose
/// upload succeeded (the last good copy), with <c>deleteMessages</c> in batches of at most 100: every recorded part,
/// every message noted as an orphan, and every id in a snapshot's gaps (where a part Telegram accepted before a crash
/// may be, not recorded by anything else). Only copies whose outcome is final and that no instance holds are touched;
/// retention holds the copy's lease while it deletes. Telegram lets a bot delete a message only while it is under 48
/// hours old, and <c>deleteMessages</c> answers true for the ids it skips, so only messages safely younger than that are
/// sent; older ones are recorded as undeletable (not retried; an administrator of the channel can still delete them by
/// hand), and reported. The sink runs this at start-up too, so a service that was down catches up before that limit.
/// Increment batches go with the snapshots they follow: once the snapshot copies are removed, a sent (or failed) batch whose every
/// increment ends at or before the oldest snapshot still kept in the channel is deleted the same way (no restore from a
/// kept snapshot needs it). Batches after the last good snapshot are therefore never deleted, and none is deleted while
/// the channel keeps no snapshot at all.
/// </summary>
public sealed partial class TelegramRetention(
    TelegramChannel channel, BackupsMetaStore meta, TelegramMessageRecords records, TelegramBatchStore batches, IncrementsStore increments,
    IOptions<RetentionOptions> retention, TimeProvider time, ILogger<TelegramRetention> logger)
{
    // A message is dated by Telegram when it arrives, sentAt by this service once it hears back: the margin covers that
    // delay and the clocks' difference, so a message sent for deletion is certainly still deletable.
    private static readonly TimeSpan DeletionMargin = TimeSpan.FromMinutes(10);

    // Long enough for deleting one snapshot's messages through flood control; a crashed cleanup's lease runs out.
    private static readonly TimeSpan RemovalLease = TimeSpan.FromMinutes(15);

    /// <summary>Removes the expired copies; returns how many messages were deleted and how many were too old to delete.</summary>
    public async Task<(int Deleted, int Undeletable)> ApplyAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var cutoff = SnapshotIds.FromTime(now - retention.Value.Retention);
        var lastGood = await meta.FindLatestSucceededAsync(BackupSinks.Telegram, cancellationToken);
        var owner = $"retention/{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}";
        int? upperBound = null;
        async Task<int> UpperBoundAsync() => upperBound ??= await SafeUpperBoundAsync(cancellationToken);
        var deletedTotal = 0;
        var undeletableTotal = 0;
        foreach (var record in await meta.ListSinkCopiesBeforeAsync(BackupSinks.Telegram, cutoff, cancellationToken))
        {
            if (record.Id == lastGood?.Id)
            {
                continue; // never the last good copy, however old
            }

            if (!await meta.TryLeaseSinkCopyForRemovalAsync(record.Id, BackupSinks.Telegram, owner, RemovalLease, cancellationToken))
            {
                continue; // a retry of the copy (or another cleanup) took it meanwhile
            }

            try
            {
                var (deleted, undeletable, removal) = await RemoveCopyAsync(record, now, UpperBoundAsync, cancellationToken);
                await meta.RecordSinkRemovalAsync(record.Id, BackupSinks.Telegram, removal, cancellationToken);
                deletedTotal += deleted;
                undeletableTotal += undeletable;
            }
            catch
            {
                await meta.ReleaseSinkCopyAsync(record.Id, BackupSinks.Telegram, owner, CancellationToken.None);
                throw;
            }
        }

        var (batchesDeleted, batchesUndeletable) = await RemoveBatchesAsync(now, UpperBoundAsync, cancellationToken);
        return (deletedTotal + batchesDeleted, undeletableTotal + batchesUndeletable);
    }

    // The sent (or failed) batches no kept snapshot needs: every increment in them ends at or before the oldest snapshot the
    // channel keeps. Only one sender writes a batch at a time and a sent or failed batch is never written again, so no lease is needed.
    private async Task<(int Deleted, int Undeletable)> RemoveBatchesAsync(DateTimeOffset now, Func<Task<int>> upperBound, CancellationToken cancellationToken)
    {
        var kept = await batches.ListKeptAsync(cancellationToken);
        if (kept.Count == 0)
        {
            return (0, 0);
        }

        var oldestKept = (await meta.ListKeptSinkCopiesAsync(BackupSinks.Telegram, cancellationToken))
            .Where(r => r.Sinks[BackupSinks.Telegram].Status == SinkStatus.Succeeded && r.Manifest?.ClusterTime is not null)
            .Select(r => r.Manifest!.ClusterTime!)
            .DefaultIfEmpty()
            .Min();
        if (oldestKept is null)
        {
            return (0, 0); // no snapshot kept in the channel: every batch may still be needed
        }

        var deletedTotal = 0;
        var undeletableTotal = 0;
        foreach (var database in kept.GroupBy(b => b.Database))
        {
            var ends = (await increments.ListAsync(database.Key, cancellationToken)).ToDictionary(i => i.Id, i => i.To);
            foreach (var batch in database.Where(b => b.Location is not null && b.IncrementIds.All(id => ends.TryGetValue(id, out var to) && to <= oldestKept)))
            {
                var (deleted, undeletable, removal) = await RemoveAsync($"increment batch {batch.Id}", batch.Location!, batch.OrphanMessageIds, batch.SentAt ?? batch.CreatedAt, now,
                    upperBound, cancellationToken);
                await batches.RecordRemovalAsync(batch.Id, removal, cancellationToken);
                deletedTotal += deleted;
                undeletableTotal += undeletable;
            }
        }

        return (deletedTotal, undeletableTotal);
    }

    /// <summary>Why messages stayed, as recorded with them: what happened and what to do.</summary>
    public const string UndeletableReason =
        "a bot can delete messages only while they are under 48 hours old; these stay in the channel: delete them by hand as its administrator";

    /// <param name="upperBound">Closes a gap no retry closed (see <see cref="SafeUpperBoundAsync"/>).</param>
    private Task<(int Deleted, int Undeletable, TelegramRemoval Removal)> RemoveCopyAsync(
        BackupRecord record, DateTimeOffset now, Func<Task<int>> upperBound, CancellationToken cancellationToken)
    {
        var copy = record.Sinks[BackupSinks.Telegram];
        var location = copy.LocationAs<TelegramLocation>()!; // listed because it has one
        return RemoveAsync($"snapshot {record.Id}", location, copy.OrphanMessageIds ?? [], copy.At ?? now.UtcDateTime, now, upperBound, cancellationToken);
    }

    /// <param name="copy">The snapshot or batch the messages belong to (for the log).</param>
    /// <param name="orphanIds">Messages sent outside its parts, dated <paramref name="orphansAt"/>.</param>
    private async Task<(int Deleted, int Undeletable, TelegramRemoval Removal)> RemoveAsync(string copy, TelegramLocation location, List<int> orphanIds,
        DateTime orphansAt, DateTimeOffset now, Func<Task<int>> upperBound, CancellationToken cancellationToken)
    {
        if (location.ChatId is { } chat && chat != channel.ChannelId)
        {
            // Message ids are per chat: deleting these ids in the channel configured now would delete other messages.
            var ids = location.Parts.Select(p => p.MessageId).ToList();
            LogSentToOtherChat(logger, copy, ids.Count);
            return (0, ids.Count, new TelegramRemoval
            {
                UndeletableMessageIds = ids,
                Reason = $"sent to chat {chat}, not to the channel TELEGRAM_CHANNEL_ID names now; delete them there by hand",
            });
        }

        bool Deletable(DateTime sentAt) =>
            now - new DateTimeOffset(DateTime.SpecifyKind(sentAt, DateTimeKind.Utc)) < TelegramLimits.DeletableFor - DeletionMargin;

        var parts = location.Parts
            .Select(p => (Id: p.MessageId, p.SentAt))
            .Concat(orphanIds.Select(o => (Id: o, SentAt: orphansAt)))
            .ToList();
        var deletable = parts.Where(p => Deletable(p.SentAt)).Select(p => p.Id).ToList();
        var tooOld = parts.Select(p => p.Id).Except(deletable).ToList();

        // Where a part accepted before a crash may be: a gap the retry closed, or an intent no retry followed.
        var gaps = location.Gaps.ToList();
        if (location.Sending is { } open)
        {
            gaps.Add(new TelegramGap { After = open.After, Before = null, At = open.At });
        }

        var searched = new List<TelegramIdRange>();
        var inGaps = new List<int>();
        foreach (var gap in gaps.Where(g => Deletable(g.At)))
        {
            var after = gap.After;
            var before = gap.Before ?? await upperBound();
            if (before - after > 1)
            {
                inGaps.AddRange(Enumerable.Range(after + 1, before - after - 1));
                searched.Add(new TelegramIdRange { After = after, Before = before });
            }
        }

        // Ids another snapshot or batch recorded are its messages, not orphans.
        var others = await records.RecordedAmongAsync(inGaps, cancellationToken);
        var orphanCandidates = inGaps.Where(i => !others.Contains(i)).Except(parts.Select(p => p.Id)).ToList();

        foreach (var batch in deletable.Concat(orphanCandidates).Chunk(TelegramLimits.DeleteBatchSize))
        {
            await channel.DeleteMessagesAsync(batch, cancellationToken);
        }

        LogMessagesDeleted(logger, copy, deletable.Count, orphanCandidates.Count);
        if (tooOld.Count > 0)
        {
            LogTooOldToDelete(logger, copy, tooOld.Count, string.Join(", ", tooOld));
        }

        return (deletable.Count, tooOld.Count, new TelegramRemoval
        {
            DeletedMessageIds = deletable,
            UndeletableMessageIds = tooOld,
            OrphanRanges = searched,
            Reason = tooOld.Count > 0 ? UndeletableReason : null,
        });
    }

    // An upper bound for gaps no retry closed (taken once per cleanup): the channel's current position, lowered below
    // any part an upload in progress may be sending right now (its message is above the id its intent recorded).
    private async Task<int> SafeUpperBoundAsync(CancellationToken cancellationToken)
    {
        var position = await channel.MarkPositionAsync(cancellationToken);
        // Read after the marker: an upload whose message is below it has its intent recorded by now.
        return (await records.OpenIntentsAsync(cancellationToken))
            .Select(sending => sending.After + 1)
            .Append(position)
            .Min();
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Telegram: {Copy} was sent to another chat than TELEGRAM_CHANNEL_ID now names; its {Count} messages are left there")]
    private static partial void LogSentToOtherChat(ILogger logger, string copy, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Telegram: {Copy}: deleted {Deleted} messages, {Searched} ids searched for orphans")]
    private static partial void LogMessagesDeleted(ILogger logger, string copy, int deleted, int searched);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Telegram: {Copy}: {TooOld} messages ({MessageIds}) are too old for a bot to delete and stay in the channel; " +
            "delete them by hand (recorded in backups_meta)")]
    private static partial void LogTooOldToDelete(ILogger logger, string copy, int tooOld, string messageIds);
}

using Microsoft.Extensions.Options;
using MongoDB.Bson;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Snapshots;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Telegram;

/// <summary>
/// Deletes the channel messages of snapshots older than <c>RETENTION_HOURS</c>, except the newest snapshot whose
/// upload succeeded (the last good copy), with <c>deleteMessages</c> in batches of at most 100: every recorded part,
/// every message noted as an orphan, and every id in a snapshot's gaps (where a part Telegram accepted before a crash
/// may be, not recorded by anything else). Only copies whose outcome is final and that no instance holds are touched;
/// retention holds the copy's lease while it deletes. Telegram lets a bot delete a message only while it is under 48
/// hours old: older ones are recorded as undeletable (not retried), and the sink runs this at start-up too, so a
/// service that was down catches up before that limit passes.
/// </summary>
public sealed class TelegramRetention(
    TelegramChannel channel, BackupsMetaStore meta, IOptions<RetentionOptions> retention, TimeProvider time, ILogger<TelegramRetention> logger)
{
    public static readonly TimeSpan DeletableFor = TimeSpan.FromHours(48);
    private const int BatchSize = 100;

    // Long enough for deleting one snapshot's messages through flood control; a crashed cleanup's lease runs out.
    private static readonly TimeSpan RemovalLease = TimeSpan.FromMinutes(15);

    public async Task<int> ApplyAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var cutoff = SnapshotIds.FromTime(now - retention.Value.Retention);
        var lastGood = await meta.FindLatestSucceededAsync(BackupSinks.Telegram, cancellationToken);
        var owner = $"retention/{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}";
        int? upperBound = null;
        async Task<int> UpperBoundAsync() => upperBound ??= await SafeUpperBoundAsync(cancellationToken);
        var deletedTotal = 0;
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
                var (deleted, removal) = await RemoveAsync(record, now, UpperBoundAsync, cancellationToken);
                await meta.RecordSinkRemovalAsync(record.Id, BackupSinks.Telegram, removal, cancellationToken);
                deletedTotal += deleted;
            }
            catch
            {
                await meta.ReleaseSinkCopyAsync(record.Id, BackupSinks.Telegram, owner, CancellationToken.None);
                throw;
            }
        }

        return deletedTotal;
    }

    /// <param name="upperBound">Closes a gap no retry closed (see <see cref="SafeUpperBoundAsync"/>).</param>
    private async Task<(int Deleted, BsonDocument Removal)> RemoveAsync(
        BackupRecord record, DateTimeOffset now, Func<Task<int>> upperBound, CancellationToken cancellationToken)
    {
        var copy = record.Sinks[BackupSinks.Telegram];
        var location = copy.Location!;
        bool Deletable(DateTime sentAt) => now - new DateTimeOffset(DateTime.SpecifyKind(sentAt, DateTimeKind.Utc)) < DeletableFor;

        var parts = location.GetValue("parts", new BsonArray()).AsBsonArray.Select(p => p.AsBsonDocument)
            .Select(p => (Id: p["messageId"].AsInt32, SentAt: p["sentAt"].ToUniversalTime()))
            .Concat((copy.OrphanMessageIds ?? []).Select(o => (Id: o, SentAt: copy.At ?? now.UtcDateTime)))
            .ToList();
        var deletable = parts.Where(p => Deletable(p.SentAt)).Select(p => p.Id).ToList();
        var tooOld = parts.Select(p => p.Id).Except(deletable).ToList();

        // Where a part accepted before a crash may be: a gap the retry closed, or an intent no retry followed.
        var gaps = location.GetValue("gaps", new BsonArray()).AsBsonArray.Select(g => g.AsBsonDocument).ToList();
        if (location.GetValue("sending", BsonNull.Value) is BsonDocument open)
        {
            gaps.Add(new BsonDocument { { "after", open["after"] }, { "before", BsonNull.Value }, { "at", open["at"] } });
        }

        var searched = new BsonArray();
        var inGaps = new List<int>();
        foreach (var gap in gaps.Where(g => Deletable(g["at"].ToUniversalTime())))
        {
            var after = gap["after"].AsInt32;
            var before = gap["before"].IsBsonNull ? await upperBound() : gap["before"].AsInt32;
            if (before - after > 1)
            {
                inGaps.AddRange(Enumerable.Range(after + 1, before - after - 1));
                searched.Add(new BsonDocument { { "after", after }, { "before", before } });
            }
        }

        // Ids another snapshot recorded are its messages, not orphans.
        var others = (await meta.ListSinkCopiesReferencingAsync(BackupSinks.Telegram, "location.parts.messageId", inGaps, cancellationToken))
            .Where(r => r.Id != record.Id)
            .SelectMany(r => r.Sinks[BackupSinks.Telegram].Location!["parts"].AsBsonArray.Select(p => p["messageId"].AsInt32))
            .ToHashSet();
        var orphanCandidates = inGaps.Where(i => !others.Contains(i)).Except(parts.Select(p => p.Id)).ToList();

        foreach (var batch in deletable.Concat(orphanCandidates).Chunk(BatchSize))
        {
            await channel.DeleteMessagesAsync(batch, cancellationToken);
        }

        logger.LogInformation("Telegram: snapshot {SnapshotId}: deleted {Deleted} messages, {TooOld} too old to delete, {Searched} ids searched for orphans",
            record.Id, deletable.Count, tooOld.Count, orphanCandidates.Count);
        return (deletable.Count, new BsonDocument
        {
            { "deletedMessageIds", new BsonArray(deletable) },
            { "undeletableMessageIds", new BsonArray(tooOld) },
            { "orphanRanges", searched },
            { "reason", tooOld.Count > 0 ? "messages older than 48 hours cannot be deleted by a bot" : BsonNull.Value },
        });
    }

    // An upper bound for gaps no retry closed (taken once per cleanup): the channel's current position, lowered below
    // any part an upload in progress may be sending right now (its message is above the id its intent recorded).
    private async Task<int> SafeUpperBoundAsync(CancellationToken cancellationToken)
    {
        var position = await channel.MarkPositionAsync(cancellationToken);
        // Read after the marker: an upload whose message is below it has its intent recorded by now.
        return (await meta.ListSinkCopiesInProgressAsync(BackupSinks.Telegram, cancellationToken))
            .Select(r => r.Sinks[BackupSinks.Telegram].Location?.GetValue("sending", BsonNull.Value))
            .OfType<BsonDocument>()
            .Select(sending => sending["after"].AsInt32 + 1)
            .Append(position)
            .Min();
    }
}

/// <summary>Runs retention once when the sink starts: catches up before Telegram's 48-hour deletion limit passes.</summary>
public sealed class TelegramRetentionOnStart(TelegramRetention retention, IOptions<TelegramSinkOptions> options, IHostApplicationLifetime lifetime,
    ILogger<TelegramRetentionOnStart> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Enabled)
        {
            return;
        }

        await lifetime.WaitForStartedAsync(stoppingToken);

        try
        {
            await retention.ApplyAsync(stoppingToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning("Telegram: start-up retention failed, the next cleanup retries: {Error}", ErrorText.Describe(e));
        }
    }
}

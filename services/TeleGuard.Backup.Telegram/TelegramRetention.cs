using Microsoft.Extensions.Options;
using MongoDB.Bson;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Snapshots;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Telegram;

/// <summary>
/// Deletes the channel messages of snapshots older than <c>RETENTION_HOURS</c>, except the newest snapshot whose
/// upload succeeded (the last good copy), with <c>deleteMessages</c> in batches of at most 100. Telegram lets a bot
/// delete a message only while it is under 48 hours old: older ones are recorded as undeletable (not retried), and
/// the sink runs this at start-up too, so a service that was down catches up before that limit passes.
/// </summary>
public sealed class TelegramRetention(
    TelegramChannel channel, BackupsMetaStore meta, IOptions<RetentionOptions> retention, TimeProvider time, ILogger<TelegramRetention> logger)
{
    public static readonly TimeSpan DeletableFor = TimeSpan.FromHours(48);
    private const int BatchSize = 100;

    public async Task<int> ApplyAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var cutoff = SnapshotIds.FromTime(now - retention.Value.Retention);
        var lastGood = await meta.FindLatestSucceededAsync(BackupSinks.Telegram, cancellationToken);
        var deletedTotal = 0;
        foreach (var record in await meta.ListSinkCopiesBeforeAsync(BackupSinks.Telegram, cutoff, cancellationToken))
        {
            if (record.Id == lastGood?.Id)
            {
                continue; // never the last good copy, however old
            }

            var parts = record.Sinks[BackupSinks.Telegram].Location!.GetValue("parts", new BsonArray()).AsBsonArray.Select(p => p.AsBsonDocument).ToList();
            var deletable = parts.Where(p => now - new DateTimeOffset(p["sentAt"].ToUniversalTime()) < DeletableFor).Select(p => p["messageId"].AsInt32).ToList();
            var tooOld = parts.Select(p => p["messageId"].AsInt32).Except(deletable).ToList();
            foreach (var batch in deletable.Chunk(BatchSize))
            {
                await channel.DeleteMessagesAsync(batch, cancellationToken);
            }

            await meta.RecordSinkRemovalAsync(record.Id, BackupSinks.Telegram, new BsonDocument
            {
                { "deletedMessageIds", new BsonArray(deletable) },
                { "undeletableMessageIds", new BsonArray(tooOld) },
                { "reason", tooOld.Count > 0 ? "messages older than 48 hours cannot be deleted by a bot" : BsonNull.Value },
            }, cancellationToken);
            deletedTotal += deletable.Count;
            logger.LogInformation("Telegram: snapshot {SnapshotId}: deleted {Deleted} messages, {TooOld} too old to delete", record.Id, deletable.Count, tooOld.Count);
        }

        return deletedTotal;
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

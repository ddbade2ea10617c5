using System.Formats.Tar;
using System.IO.Compression;
using Microsoft.Extensions.Options;
using MongoDB.Driver;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>
/// Sends the increments due in Telegram as one document: a gzip-compressed tar holding each increment's archive, as
/// the artifact store keeps it, under <c>INCREMENT_ID.tar</c>, in chain order (encrypted with
/// <c>TELEGRAM_ENCRYPTION_KEY</c> like a snapshot, and split into parts of <c>TELEGRAM_PART_SIZE_MB</c>). The batch and
/// the increments it holds are recorded before anything is sent, its parts through <see cref="TelegramArchiveSender"/>
/// (intent before each part, message id after); then every increment is recorded as copied, then the batch as sent. A
/// crash anywhere is continued by the next run with the same increments, so none is lost and none lands in two batches.
/// A batch that fails is tried again the next period, before any later increment, so batches keep chain order; but at
/// most 1 + <c>RETRY_LIMIT</c> times (one try per period, as many as the bus gives a message), or once when the failure
/// is permanent. An increment whose artifact is gone or is not the one recorded is failed for good at once and left out
/// of its batch. Either way the increments are recorded failed (<c>sinks.telegram</c>) and the later ones go on: the
/// channel's history then has a hole there, which a restore to a time treats as a break in the chain.
/// </summary>
public sealed partial class TelegramIncrementBatcher(
    TelegramArchiveSender sender,
    TelegramBatchStore batches,
    IncrementsStore increments,
    IArtifactStore store,
    IMongoDatabase database,
    IOptions<TelegramSinkOptions> options,
    IOptions<WorkDirectoryOptions> workDirectory,
    IOptions<BusOptions> bus,
    TimeProvider time,
    ILogger<TelegramIncrementBatcher> logger)
{
    /// <summary>Finishes any batch an earlier run left unsent, then sends one batch of every increment due; returns how many increments were sent.</summary>
    public async Task<int> SendDueAsync(CancellationToken cancellationToken)
    {
        var databaseName = database.DatabaseNamespace.DatabaseName;
        var owner = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}";
        var sent = 0;
        foreach (var unfinished in await batches.ListSendingAsync(databaseName, cancellationToken))
        {
            LogContinuing(logger, unfinished.Id, unfinished.IncrementIds.Count);
            await batches.TakeOverAsync(unfinished.Id, owner, cancellationToken);
            unfinished.Owner = owner;
            sent += await SendOrFailAsync(unfinished, cancellationToken);
        }

        var due = await increments.ListSinkDueAsync(databaseName, BackupSinks.Telegram, cancellationToken);
        if (due.Count == 0)
        {
            return sent;
        }

        var batch = new TelegramIncrementBatch
        {
            Id = TelegramIncrementBatch.IdFor(due[0].Id), Database = databaseName, IncrementIds = due.Select(i => i.Id).ToList(), Owner = owner,
            CreatedAt = time.GetUtcNow().UtcDateTime,
        };
        if (!await batches.TryInsertAsync(batch, cancellationToken))
        {
            throw new InvalidOperationException($"Telegram: increment batch {batch.Id} was created by another instance meanwhile; it continues it.");
        }

        return sent + await SendOrFailAsync(batch, cancellationToken);
    }

    // Returns how many increments were sent; throws when the batch is to be tried again (or another instance took it over).
    private async Task<int> SendOrFailAsync(TelegramIncrementBatch batch, CancellationToken cancellationToken)
    {
        try
        {
            return await SendAsync(batch, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            var error = ErrorText.Describe(e);
            var failedAttempts = await batches.RecordFailedAttemptAsync(batch.Id, batch.Owner, error, CancellationToken.None);
            if (failedAttempts is null || (e is not PermanentFailureException && failedAttempts <= bus.Value.RetryLimit))
            {
                throw;
            }

            await increments.RecordSinkFailedAsync(batch.IncrementIds, BackupSinks.Telegram, error, Now, CancellationToken.None);
            await batches.MarkFailedAsync(batch.Id, batch.Owner, error, CancellationToken.None);
            LogBatchFailed(logger, batch.Id, batch.IncrementIds, failedAttempts.Value, error);
            return 0;
        }
    }

    private async Task<int> SendAsync(TelegramIncrementBatch batch, CancellationToken cancellationToken)
    {
        Exception Lost() => new InvalidOperationException($"Telegram: another instance took over increment batch {batch.Id}; this attempt stopped.");
        using var folder = WorkFolder.Create(workDirectory.Value.Path, "telegram", batch.Id);
        var compressed = Path.Combine(folder.Path, $"teleguard-{batch.Id}.tar.gz");
        var held = await WriteArchiveAsync(batch, compressed, cancellationToken);
        if (held.Count == 0)
        {
            await batches.MarkFailedAsync(batch.Id, batch.Owner, "every increment it held failed for good (each is recorded with its error)", CancellationToken.None);
            return 0;
        }

        if (held.Count < batch.IncrementIds.Count)
        {
            if (!await batches.SetIncrementsAsync(batch.Id, batch.Owner, held, cancellationToken))
            {
                throw Lost();
            }

            batch.IncrementIds = held;
        }

        var keys = options.Value.EncryptionKeys;
        var archive = keys is null ? compressed : await TelegramUploader.EncryptAsync(compressed, keys, batch.Id, cancellationToken);
        var size = new FileInfo(archive).Length;
        var sha256 = await TelegramUploader.Sha256Async(archive, cancellationToken);

        var label = $"increment batch {batch.Id}";
        var (location, superseded) = sender.Continue(label, batch.Location, options.Value.Channel, size, sha256, options.Value.PartSizeBytes, keys);
        if (superseded.Count > 0)
        {
            await batches.RecordOrphansAsync(batch.Id, superseded, cancellationToken);
        }

        var (first, last) = (batch.IncrementIds[0], batch.IncrementIds[^1]);
        await sender.SendAsync(label, archive, location,
            (index, count) => PartCaption.ForIncrements(first, last, index, count, size, sha256, keys?.PrimaryKeyId),
            (progress, ct) => batches.UpdateProgressAsync(batch.Id, batch.Owner, progress, ct),
            orphans => batches.RecordOrphansAsync(batch.Id, orphans, CancellationToken.None),
            Lost,
            cancellationToken);

        var copied = new TelegramIncrementLocation { BatchId = batch.Id, ChatId = options.Value.Channel, MessageIds = location.MessageIds ?? [] };
        await increments.RecordSinkBatchCopiedAsync(batch.IncrementIds, BackupSinks.Telegram, copied, Now, CancellationToken.None);
        if (!await batches.MarkSentAsync(batch.Id, batch.Owner, location, CancellationToken.None))
        {
            throw Lost();
        }

        LogBatchSent(logger, batch.Id, held.Count, copied.MessageIds);
        return held.Count;
    }

    // The batch's archive: each increment's artifact, checked against its record while copied, as one tar entry, in the
    // batch's order; returns the increments it holds. One that can never be sent (see CopyCheckedAsync) is recorded
    // failed and left out. Entries carry fixed metadata (the increment's close time), so the same batch makes the same
    // bytes and a continued batch finds the parts it already sent.
    private async Task<List<string>> WriteArchiveAsync(TelegramIncrementBatch batch, string destination, CancellationToken cancellationToken)
    {
        await using var output = File.Create(destination);
        await using var gzip = new GZipStream(output, CompressionLevel.Optimal);
        await using var tar = new TarWriter(gzip, TarEntryFormat.Ustar, leaveOpen: true);
        var held = new List<string>();
        foreach (var id in batch.IncrementIds)
        {
            var copy = Path.Combine(Path.GetDirectoryName(destination)!, $"{id}.tar");
            IncrementRecord record;
            try
            {
                record = await CopyCheckedAsync(id, copy, cancellationToken);
            }
            catch (PermanentFailureException e)
            {
                var error = ErrorText.Describe(e);
                await increments.RecordSinkFailedAsync([id], BackupSinks.Telegram, error, Now, CancellationToken.None);
                LogIncrementFailed(logger, id, batch.Id, error);
                continue;
            }

            await using (var data = File.OpenRead(copy))
            {
                await tar.WriteEntryAsync(new UstarTarEntry(TarEntryType.RegularFile, $"{id}.tar")
                {
                    DataStream = data,
                    ModificationTime = new DateTimeOffset(DateTime.SpecifyKind(record.ClosedAt, DateTimeKind.Utc)),
                    Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
                }, cancellationToken);
            }

            File.Delete(copy);
            held.Add(id);
        }

        return held;
    }

    // The increment's artifact copied to `copy` and checked against its record. Without a record, without its artifact
    // or with another one in its place it can never be sent: a PermanentFailureException.
    private async Task<IncrementRecord> CopyCheckedAsync(string id, string copy, CancellationToken cancellationToken)
    {
        var record = await increments.GetAsync(id, cancellationToken)
            ?? throw new PermanentFailureException($"Telegram: increment {id} has no record.");
        Stream artifact;
        try
        {
            artifact = await store.OpenReadAsync(record.Artifact.Location, cancellationToken);
        }
        catch (ArtifactNotFoundException e)
        {
            throw new PermanentFailureException($"Telegram: increment {id}: its artifact {e.Location} is gone from the artifact store.", e);
        }

        await using (artifact)
        await using (var hashing = new HashingStream(artifact))
        await using (var file = File.Create(copy))
        {
            await hashing.CopyToAsync(file, cancellationToken);
            if (hashing.GetSha256() != record.Artifact.Sha256)
            {
                throw new PermanentFailureException($"Telegram: increment {id}: the artifact in the store is not the one recorded (its SHA-256 differs).");
            }
        }

        return record;
    }

    private DateTime Now => time.GetUtcNow().UtcDateTime;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Telegram: continuing increment batch {BatchId} ({Count} increments) that an earlier run left unsent")]
    private static partial void LogContinuing(ILogger logger, string batchId, int count);

    [LoggerMessage(Level = LogLevel.Error,
        Message = "Telegram: increment {IncrementId} can never be sent and is recorded failed; batch {BatchId} goes on without it, leaving a hole in the channel's history: {Error}")]
    private static partial void LogIncrementFailed(ILogger logger, string incrementId, string batchId, string error);

    [LoggerMessage(Level = LogLevel.Error,
        Message = "Telegram: increment batch {BatchId} failed for good after {Attempts} failed attempts; its increments {IncrementIds} are recorded failed, leaving a hole in the channel's history: {Error}")]
    private static partial void LogBatchFailed(ILogger logger, string batchId, List<string> incrementIds, int attempts, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Telegram: increment batch {BatchId} of {Count} increments sent as messages {MessageIds}")]
    private static partial void LogBatchSent(ILogger logger, string batchId, int count, List<int> messageIds);
}

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
/// </summary>
public sealed partial class TelegramIncrementBatcher(
    TelegramArchiveSender sender,
    TelegramBatchStore batches,
    IncrementsStore increments,
    IArtifactStore store,
    IMongoDatabase database,
    IOptions<TelegramSinkOptions> options,
    IOptions<WorkDirectoryOptions> workDirectory,
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
            sent += await SendAsync(unfinished, cancellationToken);
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

        return sent + await SendAsync(batch, cancellationToken);
    }

    private async Task<int> SendAsync(TelegramIncrementBatch batch, CancellationToken cancellationToken)
    {
        using var folder = WorkFolder.Create(workDirectory.Value.Path, "telegram", batch.Id);
        var compressed = Path.Combine(folder.Path, $"teleguard-{batch.Id}.tar.gz");
        var records = await WriteArchiveAsync(batch, compressed, cancellationToken);
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
        Exception Lost() => new InvalidOperationException($"Telegram: another instance took over increment batch {batch.Id}; this attempt stopped.");
        await sender.SendAsync(label, archive, location,
            (index, count) => PartCaption.ForIncrements(first, last, index, count, size, sha256, keys?.PrimaryKeyId),
            (progress, ct) => batches.UpdateProgressAsync(batch.Id, batch.Owner, progress, ct),
            orphans => batches.RecordOrphansAsync(batch.Id, orphans, CancellationToken.None),
            Lost,
            cancellationToken);

        var copied = new TelegramIncrementLocation { BatchId = batch.Id, ChatId = options.Value.Channel, MessageIds = location.MessageIds ?? [] };
        await increments.RecordSinkBatchCopiedAsync(batch.IncrementIds, BackupSinks.Telegram, copied, time.GetUtcNow().UtcDateTime, CancellationToken.None);
        if (!await batches.MarkSentAsync(batch.Id, batch.Owner, location, CancellationToken.None))
        {
            throw Lost();
        }

        LogBatchSent(logger, batch.Id, records, copied.MessageIds);
        return records;
    }

    // The batch's archive: each increment's artifact, checked against its record while copied, as one tar entry, in the
    // batch's order. Entries carry fixed metadata (the increment's close time), so the same batch makes the same bytes
    // and a continued batch finds the parts it already sent.
    private async Task<int> WriteArchiveAsync(TelegramIncrementBatch batch, string destination, CancellationToken cancellationToken)
    {
        await using var output = File.Create(destination);
        await using var gzip = new GZipStream(output, CompressionLevel.Optimal);
        await using var tar = new TarWriter(gzip, TarEntryFormat.Ustar, leaveOpen: true);
        foreach (var id in batch.IncrementIds)
        {
            var record = await increments.GetAsync(id, cancellationToken)
                ?? throw new PermanentFailureException($"Telegram: increment batch {batch.Id}: increment {id} has no record.");
            var copy = Path.Combine(Path.GetDirectoryName(destination)!, $"{id}.tar");
            await using (var artifact = await store.OpenReadAsync(record.Artifact.Location, cancellationToken))
            await using (var hashing = new HashingStream(artifact))
            await using (var file = File.Create(copy))
            {
                await hashing.CopyToAsync(file, cancellationToken);
                if (hashing.GetSha256() != record.Artifact.Sha256)
                {
                    throw new PermanentFailureException($"Telegram: increment {id}: the artifact in the store is not the one recorded (its SHA-256 differs).");
                }
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
        }

        return batch.IncrementIds.Count;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Telegram: continuing increment batch {BatchId} ({Count} increments) that an earlier run left unsent")]
    private static partial void LogContinuing(ILogger logger, string batchId, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Telegram: increment batch {BatchId} of {Count} increments sent as messages {MessageIds}")]
    private static partial void LogBatchSent(ILogger logger, string batchId, int count, List<int> messageIds);
}

using Microsoft.Extensions.Options;
using MongoDB.Bson;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Crypto;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>
/// Uploads a snapshot to the channel: the artifact gzip-compressed into one archive (encrypted, with
/// <c>TELEGRAM_ENCRYPTION_KEY</c>, in the format of the public copies), sent in parts of at most
/// <c>TELEGRAM_PART_SIZE_MB</c>, each captioned with the snapshot id, i/n, the archive size and SHA-256. Bots cannot
/// read channel history, so everything sent is recorded in <c>backups_meta</c>: before each part, the intent to send it
/// with the highest message id known at that moment; after it, its message id. A retry or redelivery sends only the parts
/// not recorded, and turns an intent left open (a crash between Telegram accepting a part and its record) into a range
/// of message ids — from the id known before the intent to the first id it sends itself — that retention deletes with
/// the snapshot (channel message ids are sequential). Only the holder of the sink's lease records anything; an attempt
/// that lost it deletes the part it just sent.
/// </summary>
public sealed partial class TelegramUploader(
    TelegramChannel channel,
    SnapshotArtifactFetcher fetcher,
    BackupsMetaStore meta,
    IOptions<TelegramSinkOptions> options,
    IOptions<WorkDirectoryOptions> workDirectory,
    TimeProvider time,
    ILogger<TelegramUploader> logger)
{
    /// <param name="owner">The attempt's lease owner: progress is recorded only while it holds the lease.</param>
    /// <param name="cancellationToken">Cancelled when the lease is lost; a part already on its way is let finish (its id is needed to delete it).</param>
    public async Task<BsonDocument> UploadAsync(SnapshotCreated snapshot, string owner, CancellationToken cancellationToken)
    {
        var id = snapshot.SnapshotId;
        // A folder of its own, removed when done; one a killed process left is removed by the next upload.
        using var folder = WorkFolder.Create(workDirectory.Value.Path, "telegram", id);
        var work = folder.Path;
        var compressed = Path.Combine(work, $"teleguard-{id}.tar.gz");
        await fetcher.CompressVerifiedAsync(snapshot, compressed, cancellationToken);
        var keys = options.Value.EncryptionKeys;
        var archive = keys is null ? compressed : await EncryptAsync(compressed, keys, id, cancellationToken);
        var size = new FileInfo(archive).Length;
        string sha256;
        await using (var file = File.OpenRead(archive))
        {
            sha256 = Convert.ToHexStringLower(await System.Security.Cryptography.SHA256.HashDataAsync(file, cancellationToken));
        }

        var partSize = options.Value.PartSizeBytes;
        var count = (int)Math.Max(1, (size + partSize - 1) / partSize);

        // Parts already on the channel for this very archive (gzip output is deterministic for the same artifact, and so
        // is its encryption: see EncryptAsync).
        var previous = (await meta.GetAsync(id, cancellationToken))?.Sinks.GetValueOrDefault(BackupSinks.Telegram)?.Location;
        var previousParts = previous?.GetValue("parts", new BsonArray()).AsBsonArray.Select(p => p.AsBsonDocument).ToList() ?? [];
        var reusable = previous is not null && previous.GetValue("archiveSha256", "").AsString == sha256 && previous.GetValue("partSize", 0L).ToInt64() == partSize;
        var parts = reusable ? previousParts : [];
        if (!reusable && previousParts.Count > 0)
        {
            // Parts of another archive (the part size or the key changed): not part of this copy, deleted with it.
            await meta.RecordSinkOrphansAsync(id, BackupSinks.Telegram, previousParts.Select(p => p["messageId"].AsInt32).ToList(), cancellationToken);
        }

        var gaps = previous?.GetValue("gaps", new BsonArray()).AsBsonArray.Select(g => g.AsBsonDocument).ToList() ?? [];
        if (previous?.GetValue("sending", BsonNull.Value) is BsonDocument interrupted)
        {
            LogInterruptedPart(logger, id, interrupted["index"].AsInt32);
            gaps.Add(new BsonDocument { { "after", interrupted["after"] }, { "before", BsonNull.Value }, { "at", interrupted["at"] } });
        }

        var location = new BsonDocument
        {
            { "chatId", options.Value.Channel },
            { "archiveSize", size },
            { "archiveSha256", sha256 },
            { "partSize", partSize },
            { "partCount", count },
            { "encrypted", keys is not null },
            { "parts", new BsonArray(parts) },
            { "gaps", new BsonArray(gaps) },
        };
        if (keys is not null)
        {
            location["keyId"] = keys.PrimaryKeyId;
        }

        for (var index = 1; index <= count; index++)
        {
            if (parts.Any(p => p["index"].AsInt32 == index))
            {
                continue;
            }

            var offset = (index - 1) * partSize;
            var length = Math.Min(partSize, size - offset);
            var fileName = count == 1 ? Path.GetFileName(archive) : $"{Path.GetFileName(archive)}.part{index:D3}of{count:D3}";
            var caption = PartCaption.For(id, index, count, size, sha256, keys?.PrimaryKeyId);
            string partSha256;
            await using (var part = new FileSegmentStream(archive, offset, length))
            {
                partSha256 = Convert.ToHexStringLower(await System.Security.Cryptography.SHA256.HashDataAsync(part, cancellationToken));
            }

            location["sending"] = new BsonDocument
            {
                { "index", index }, { "after", await HighestKnownMessageIdAsync(parts, cancellationToken) }, { "at", time.GetUtcNow().UtcDateTime },
            };
            if (!await meta.UpdateSinkProgressAsync(id, BackupSinks.Telegram, owner, location, cancellationToken))
            {
                throw new SinkLeaseLostException(BackupSinks.Telegram, id);
            }

            int messageId;
            string fileId;
            try
            {
                (messageId, fileId) = await channel.SendDocumentAsync(
                    () => new FileSegmentStream(archive, offset, length), fileName, caption, CancellationToken.None);
            }
            catch (Exception e) when (e is PermanentFailureException or TelegramCallException { Refused: true })
            {
                // Telegram answered with an error: no message was made, so no range of ids needs searching later.
                location.Remove("sending");
                await meta.UpdateSinkProgressAsync(id, BackupSinks.Telegram, owner, location, CancellationToken.None);
                throw;
            }

            foreach (var gap in gaps.Where(g => g["before"].IsBsonNull))
            {
                gap["before"] = messageId; // sent after the attempt that left the gap had ended
            }

            parts.Add(new BsonDocument
            {
                { "index", index }, { "messageId", messageId }, { "fileId", fileId }, { "size", length },
                { "sha256", partSha256 }, { "sentAt", time.GetUtcNow().UtcDateTime },
            });
            location["parts"] = new BsonArray(parts.OrderBy(p => p["index"].AsInt32));
            location["gaps"] = new BsonArray(gaps);
            location.Remove("sending");
            if (!await meta.UpdateSinkProgressAsync(id, BackupSinks.Telegram, owner, location, CancellationToken.None))
            {
                await RemoveUnrecordedAsync(id, messageId);
                throw new SinkLeaseLostException(BackupSinks.Telegram, id);
            }

            LogPartSent(logger, id, index, count, messageId);
        }

        location["messageIds"] = new BsonArray(parts.OrderBy(p => p["index"].AsInt32).Select(p => p["messageId"]));
        return location;
    }

    // The compressed archive encrypted with the primary key (its plaintext deleted at once). The salt is derived from the
    // key and the compressed archive instead of drawn at random, so a retry makes the same bytes and sends only the parts
    // not recorded; a different archive gets a different salt, so no nonce is used twice under one chunk key.
    private static async Task<string> EncryptAsync(string compressed, EncryptionKeyRing keys, string id, CancellationToken cancellationToken)
    {
        var encrypted = Path.Combine(Path.GetDirectoryName(compressed)!, $"teleguard-{id}.tgb");
        await using (var plaintext = File.OpenRead(compressed))
        await using (var output = File.Create(encrypted))
        {
            await StreamingEncryption.EncryptRepeatableAsync(plaintext, output, keys, id, cancellationToken);
        }

        File.Delete(compressed);
        return encrypted;
    }

    // A message id every message sent from now on is above: the highest this snapshot or the latest ones recorded, or,
    // when the channel has none recorded, the channel's current position.
    private async Task<int> HighestKnownMessageIdAsync(List<BsonDocument> parts, CancellationToken cancellationToken)
    {
        if (parts.Count > 0)
        {
            return parts.Max(p => p["messageId"].AsInt32);
        }

        var recent = (await meta.ListRecentAsync(24, cancellationToken))
            .Select(r => r.Sinks.GetValueOrDefault(BackupSinks.Telegram)?.Location?.GetValue("parts", new BsonArray()).AsBsonArray)
            .SelectMany(p => p ?? [])
            .Select(p => p["messageId"].AsInt32)
            .DefaultIfEmpty(0)
            .Max();
        return recent > 0 ? recent : await channel.MarkPositionAsync(cancellationToken);
    }

    // The part was sent by an attempt that has just lost its lease: no record will ever name it, so it goes now (or, if
    // Telegram refuses, is noted for retention).
    private async Task RemoveUnrecordedAsync(string id, int messageId)
    {
        try
        {
            await channel.DeleteMessagesAsync([messageId], CancellationToken.None);
            LogUnrecordedMessageDeleted(logger, id, messageId);
        }
        catch (Exception e)
        {
            await meta.RecordSinkOrphansAsync(id, BackupSinks.Telegram, [messageId], CancellationToken.None);
            LogUnrecordedMessageKept(logger, id, messageId, ErrorText.Describe(e));
        }
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Telegram: snapshot {SnapshotId} part {Index} was being sent by an attempt that ended; a message Telegram accepted then is deleted with the snapshot")]
    private static partial void LogInterruptedPart(ILogger logger, string snapshotId, int index);

    [LoggerMessage(Level = LogLevel.Information, Message = "Telegram: snapshot {SnapshotId} part {Index}/{Count} sent as message {MessageId}")]
    private static partial void LogPartSent(ILogger logger, string snapshotId, int index, int count, int messageId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Telegram: snapshot {SnapshotId}: lost the lease while sending; deleted the message {MessageId} it had just sent")]
    private static partial void LogUnrecordedMessageDeleted(ILogger logger, string snapshotId, int messageId);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Telegram: snapshot {SnapshotId}: could not delete message {MessageId} sent after the lease was lost ({Error}); retention deletes it")]
    private static partial void LogUnrecordedMessageKept(ILogger logger, string snapshotId, int messageId, string error);
}

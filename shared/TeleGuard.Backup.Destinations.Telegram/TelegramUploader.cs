using Microsoft.Extensions.Options;
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
    public async Task<TelegramLocation> UploadAsync(SnapshotCreated snapshot, string owner, CancellationToken cancellationToken)
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
        var previous = (await meta.GetAsync(id, cancellationToken))?.Sinks.GetValueOrDefault(BackupSinks.Telegram)?.LocationAs<TelegramLocation>();
        var previousParts = previous?.Parts ?? [];
        var reusable = previous is not null && previous.ArchiveSha256 == sha256 && previous.PartSize == partSize;
        var parts = reusable ? previousParts : [];
        if (!reusable && previousParts.Count > 0)
        {
            // Parts of another archive (the part size or the key changed): not part of this copy, deleted with it.
            await meta.RecordSinkOrphansAsync(id, BackupSinks.Telegram, previousParts.Select(p => p.MessageId).ToList(), cancellationToken);
        }

        var gaps = previous?.Gaps ?? [];
        if (previous?.Sending is { } interrupted)
        {
            LogInterruptedPart(logger, id, interrupted.Index);
            gaps.Add(new TelegramGap { After = interrupted.After, Before = null, At = interrupted.At });
        }

        var location = new TelegramLocation
        {
            ChatId = options.Value.Channel,
            ArchiveSize = size,
            ArchiveSha256 = sha256,
            PartSize = partSize,
            PartCount = count,
            Encrypted = keys is not null,
            Parts = [.. parts],
            Gaps = [.. gaps],
            KeyId = keys?.PrimaryKeyId,
        };

        for (var index = 1; index <= count; index++)
        {
            if (parts.Any(p => p.Index == index))
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

            location.Sending = new TelegramSendIntent
            {
                Index = index, After = await HighestKnownMessageIdAsync(parts, cancellationToken), At = time.GetUtcNow().UtcDateTime,
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
                location.Sending = null;
                await meta.UpdateSinkProgressAsync(id, BackupSinks.Telegram, owner, location, CancellationToken.None);
                throw;
            }

            foreach (var gap in gaps.Where(g => g.Before is null))
            {
                gap.Before = messageId; // sent after the attempt that left the gap had ended
            }

            parts.Add(new TelegramPart
            {
                Index = index, MessageId = messageId, FileId = fileId, Size = length, Sha256 = partSha256, SentAt = time.GetUtcNow().UtcDateTime,
            });
            location.Parts = [.. parts.OrderBy(p => p.Index)];
            location.Gaps = [.. gaps];
            location.Sending = null;
            if (!await meta.UpdateSinkProgressAsync(id, BackupSinks.Telegram, owner, location, CancellationToken.None))
            {
                await RemoveUnrecordedAsync(id, messageId);
                throw new SinkLeaseLostException(BackupSinks.Telegram, id);
            }

            LogPartSent(logger, id, index, count, messageId);
        }

        location.MessageIds = [.. parts.OrderBy(p => p.Index).Select(p => p.MessageId)];
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
    private async Task<int> HighestKnownMessageIdAsync(List<TelegramPart> parts, CancellationToken cancellationToken)
    {
        if (parts.Count > 0)
        {
            return parts.Max(p => p.MessageId);
        }

        var recent = (await meta.ListRecentAsync(24, cancellationToken))
            .SelectMany(r => r.Sinks.GetValueOrDefault(BackupSinks.Telegram)?.LocationAs<TelegramLocation>()?.Parts ?? [])
            .Select(p => p.MessageId)
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

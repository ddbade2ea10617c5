using TeleGuard.Backup.Crypto;
using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>
/// Sends an archive file to the channel in parts, recording everything in <c>backups_meta</c> as it goes (bots cannot
/// read channel history, so the record is the only way back to a message): before each part, the intent to send it with
/// the highest message id known at that moment; after it, its message id. Whoever continues a copy whose intent was left
/// open (a crash between Telegram accepting a part and its record) gets a gap — from the id known before the intent to
/// the first id sent after it — where that message may be; retention (or the caller at once) deletes the ids in it that
/// no record names. The caller's <c>record</c> writes progress only while it still owns the copy; when it cannot, the
/// part just sent is deleted (or left to retention through <c>recordOrphans</c>) and the caller's <c>lost</c> exception is thrown.
/// Snapshots (<see cref="TelegramUploader"/>) and increment batches (<see cref="TelegramIncrementBatcher"/>) are sent with it.
/// </summary>
public sealed partial class TelegramArchiveSender(TelegramChannel channel, TelegramMessageRecords records, TimeProvider time, ILogger<TelegramArchiveSender> logger)
{
    /// <summary>
    /// Where a copy of <paramref name="archive"/> stands, continuing <paramref name="previous"/> (what was recorded for it
    /// before): the parts already sent are kept when they are of this very archive (same SHA-256 and part size), an
    /// intent left open becomes a gap. Returns the message ids of parts of another archive, which are no longer part of the copy.
    /// </summary>
    public (TelegramLocation Location, List<int> Superseded) Continue(string label, TelegramLocation? previous, string chatId, long size, string sha256,
        long partSize, EncryptionKeyRing? keys)
    {
        var previousParts = previous?.Parts ?? [];
        var reusable = previous is not null && previous.ArchiveSha256 == sha256 && previous.PartSize == partSize;
        var gaps = previous?.Gaps ?? [];
        if (previous?.Sending is { } interrupted)
        {
            LogInterruptedPart(logger, label, interrupted.Index);
            gaps.Add(new TelegramGap { After = interrupted.After, Before = null, At = interrupted.At });
        }

        var location = new TelegramLocation
        {
            ChatId = chatId,
            ArchiveSize = size,
            ArchiveSha256 = sha256,
            PartSize = partSize,
            PartCount = (int)Math.Max(1, (size + partSize - 1) / partSize),
            Encrypted = keys is not null,
            Parts = reusable ? [.. previousParts] : [],
            Gaps = [.. gaps],
            KeyId = keys?.PrimaryKeyId,
        };
        return (location, reusable ? [] : previousParts.Select(p => p.MessageId).ToList());
    }

    /// <summary>Sends the parts of <paramref name="archive"/> that <paramref name="location"/> does not hold yet; sets its message ids when all are sent.</summary>
    /// <param name="caption">The caption of part i of n.</param>
    /// <param name="record">Writes the location; false when the caller no longer owns the copy.</param>
    /// <param name="recordOrphans">Notes messages sent after the copy was lost that could not be deleted, for retention.</param>
    /// <param name="lost">What is thrown when the copy was lost to another instance.</param>
    /// <param name="cancellationToken">Stops before the next part; a part already on its way is let finish (its id is needed to delete it).</param>
    public async Task SendAsync(string label, string archive, TelegramLocation location, Func<int, int, string> caption,
        Func<TelegramLocation, CancellationToken, Task<bool>> record, Func<IReadOnlyList<int>, Task> recordOrphans, Func<Exception> lost, CancellationToken cancellationToken)
    {
        var size = location.ArchiveSize;
        var partSize = location.PartSize;
        var count = location.PartCount;
        for (var index = 1; index <= count; index++)
        {
            if (location.Parts.Any(p => p.Index == index))
            {
                continue;
            }

            var offset = (index - 1) * partSize;
            var length = Math.Min(partSize, size - offset);
            var fileName = count == 1 ? Path.GetFileName(archive) : $"{Path.GetFileName(archive)}.part{index:D3}of{count:D3}";
            string partSha256;
            await using (var part = new FileSegmentStream(archive, offset, length))
            {
                partSha256 = Convert.ToHexStringLower(await System.Security.Cryptography.SHA256.HashDataAsync(part, cancellationToken));
            }

            location.Sending = new TelegramSendIntent
            {
                Index = index, After = await HighestKnownMessageIdAsync(location.Parts, cancellationToken), At = time.GetUtcNow().UtcDateTime,
            };
            if (!await record(location, cancellationToken))
            {
                throw lost();
            }

            int messageId;
            string fileId;
            try
            {
                (messageId, fileId) = await channel.SendDocumentAsync(
                    () => new FileSegmentStream(archive, offset, length), fileName, caption(index, count), CancellationToken.None);
            }
            catch (Exception e) when (e is PermanentFailureException or TelegramCallException { Refused: true })
            {
                // Telegram answered with an error: no message was made, so no range of ids needs searching later.
                location.Sending = null;
                await record(location, CancellationToken.None);
                throw;
            }

            foreach (var gap in location.Gaps.Where(g => g.Before is null))
            {
                gap.Before = messageId; // sent after the attempt that left the gap had ended
            }

            location.Parts = [.. location.Parts.Append(new TelegramPart
            {
                Index = index, MessageId = messageId, FileId = fileId, Size = length, Sha256 = partSha256, SentAt = time.GetUtcNow().UtcDateTime,
            }).OrderBy(p => p.Index)];
            location.Sending = null;
            if (!await record(location, CancellationToken.None))
            {
                await RemoveUnrecordedAsync(label, messageId, recordOrphans);
                throw lost();
            }

            LogPartSent(logger, label, index, count, messageId);
        }

        location.MessageIds = [.. location.Parts.OrderBy(p => p.Index).Select(p => p.MessageId)];
    }

    // A message id every message sent from now on is above: the highest this copy or the latest ones recorded, or,
    // when the channel has none recorded, the channel's current position.
    private async Task<int> HighestKnownMessageIdAsync(List<TelegramPart> parts, CancellationToken cancellationToken)
    {
        if (parts.Count > 0)
        {
            return parts.Max(p => p.MessageId);
        }

        var recent = await records.HighestRecentMessageIdAsync(cancellationToken);
        return recent > 0 ? recent : await channel.MarkPositionAsync(cancellationToken);
    }

    // The part was sent by an attempt that has just lost the copy: no record will ever name it, so it goes now (or, if
    // Telegram refuses, is noted for retention).
    private async Task RemoveUnrecordedAsync(string label, int messageId, Func<IReadOnlyList<int>, Task> recordOrphans)
    {
        try
        {
            await channel.DeleteMessagesAsync([messageId], CancellationToken.None);
            LogUnrecordedMessageDeleted(logger, label, messageId);
        }
        catch (Exception e)
        {
            await recordOrphans([messageId]);
            LogUnrecordedMessageKept(logger, label, messageId, ErrorText.Describe(e));
        }
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Telegram: {Copy} part {Index} was being sent by an attempt that ended; a message Telegram accepted then is deleted with the copy")]
    private static partial void LogInterruptedPart(ILogger logger, string copy, int index);

    [LoggerMessage(Level = LogLevel.Information, Message = "Telegram: {Copy} part {Index}/{Count} sent as message {MessageId}")]
    private static partial void LogPartSent(ILogger logger, string copy, int index, int count, int messageId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Telegram: {Copy}: lost the lease while sending; deleted the message {MessageId} it had just sent")]
    private static partial void LogUnrecordedMessageDeleted(ILogger logger, string copy, int messageId);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Telegram: {Copy}: could not delete message {MessageId} sent after the lease was lost ({Error}); retention deletes it")]
    private static partial void LogUnrecordedMessageKept(ILogger logger, string copy, int messageId, string error);
}

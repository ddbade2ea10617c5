using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using MongoDB.Bson;
using TeleGuard.Backup.Destinations.Telegram;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Telegram.Tests;

/// <summary>
/// The Telegram copy's records in backups_meta, built by hand exactly as the uploader and retention have written them
/// (element names, order and BSON types), read into <see cref="TelegramLocation"/> and <see cref="TelegramRemoval"/> and
/// written back unchanged: records already in backups_meta, half-sent copies included, keep working after an upgrade.
/// </summary>
public sealed class TelegramLocationTests
{
    private const string Chat = "-1001234567890";
    private const string KeyId = "0123456789abcdef";
    private static readonly DateTime SentAt = new(2026, 11, 26, 4, 1, 2, 345, DateTimeKind.Utc);
    private static readonly DateTime InterruptedAt = new(2026, 11, 26, 4, 0, 30, 120, DateTimeKind.Utc);

    private static BsonDocument Part(int index, int messageId, long size) => new()
    {
        { "index", index }, { "messageId", messageId }, { "fileId", $"file-{messageId}" }, { "size", size },
        { "sha256", new string((char)('a' + index), 64) }, { "sentAt", SentAt.AddSeconds(index) },
    };

    // A finished, encrypted copy whose second part was sent again after a crash (Telegram had accepted it as message 102).
    private static BsonDocument Finished() => new()
    {
        { "chatId", Chat },
        { "archiveSize", 2_500_000L },
        { "archiveSha256", new string('f', 64) },
        { "partSize", 1_048_576L },
        { "partCount", 3 },
        { "encrypted", true },
        { "parts", new BsonArray { Part(1, 101, 1_048_576L), Part(2, 103, 1_048_576L), Part(3, 104, 402_848L) } },
        { "gaps", new BsonArray { new BsonDocument { { "after", 101 }, { "before", 103 }, { "at", InterruptedAt } } } },
        { "keyId", KeyId },
        { "messageIds", new BsonArray { 101, 103, 104 } },
    };

    // A copy being sent, unencrypted: part 1 recorded, part 2 about to go, and a gap a crashed attempt left that no part closed yet.
    private static BsonDocument Sending() => new()
    {
        { "chatId", Chat },
        { "archiveSize", 2_500_000L },
        { "archiveSha256", new string('e', 64) },
        { "partSize", 1_048_576L },
        { "partCount", 3 },
        { "encrypted", false },
        { "parts", new BsonArray { Part(1, 101, 1_048_576L) } },
        { "gaps", new BsonArray { new BsonDocument { { "after", 101 }, { "before", BsonNull.Value }, { "at", InterruptedAt } } } },
        { "sending", new BsonDocument { { "index", 2 }, { "after", 101 }, { "at", SentAt } } },
    };

    private static TelegramDestination Destination() =>
        new(Options.Create(new TelegramSinkOptions()), new ServiceCollection().BuildServiceProvider());

    [Fact]
    public void A_finished_copy_reads_as_its_parts_gaps_key_and_message_ids_and_writes_back_unchanged()
    {
        var location = StoredShape.RoundTripLocation<TelegramLocation>(Finished());

        Assert.Equal(Chat, location.ChatId);
        Assert.Equal(2_500_000L, location.ArchiveSize);
        Assert.Equal(new string('f', 64), location.ArchiveSha256);
        Assert.Equal(1_048_576L, location.PartSize);
        Assert.Equal(3, location.PartCount);
        Assert.True(location.Encrypted);
        Assert.Equal(KeyId, location.KeyId);
        Assert.Equal([(1, 101, "file-101"), (2, 103, "file-103"), (3, 104, "file-104")], location.Parts.Select(p => (p.Index, p.MessageId, p.FileId)));
        Assert.Equal(402_848L, location.Parts[2].Size);
        Assert.Equal(new string('d', 64), location.Parts[2].Sha256);
        Assert.Equal(SentAt.AddSeconds(3), location.Parts[2].SentAt);
        var gap = Assert.Single(location.Gaps);
        Assert.Equal((101, 103, InterruptedAt), (gap.After, gap.Before, gap.At));
        Assert.Null(location.Sending);
        Assert.Equal([101, 103, 104], location.MessageIds!);

        Assert.Equal($"3 of 3 parts as messages 101, 103, 104 in chat {Chat}; encrypted with key {KeyId}",
            Destination().DescribeCopy(new SinkRecord { LocationDocument = Finished() }));
    }

    /// <summary>What crash recovery relies on: the part being sent and an open gap read back as they were recorded.</summary>
    [Fact]
    public void A_copy_being_sent_reads_with_its_send_intent_and_open_gap_and_writes_back_unchanged()
    {
        var location = StoredShape.RoundTripLocation<TelegramLocation>(Sending());

        Assert.False(location.Encrypted);
        Assert.Null(location.KeyId);
        Assert.Null(location.MessageIds);
        var sending = location.Sending!;
        Assert.Equal((2, 101, SentAt), (sending.Index, sending.After, sending.At));
        var gap = Assert.Single(location.Gaps);
        Assert.Equal((101, (int?)null, InterruptedAt), (gap.After, gap.Before, gap.At));
        Assert.Equal(101, Assert.Single(location.Parts).MessageId);

        Assert.Equal($"1 of 3 parts as messages 101 in chat {Chat}", Destination().DescribeCopy(new SinkRecord { LocationDocument = Sending() }));
    }

    [Fact]
    public void A_copy_recorded_before_encryption_and_gaps_existed_reads_as_unencrypted_without_gaps()
    {
        var first = Finished();
        first.Remove("encrypted");
        first.Remove("gaps");
        first.Remove("keyId");

        var location = new SinkRecord { LocationDocument = first }.LocationAs<TelegramLocation>()!;

        Assert.False(location.Encrypted);
        Assert.Empty(location.Gaps);
        Assert.Null(location.KeyId);
        Assert.Equal([101, 103, 104], location.Parts.Select(p => p.MessageId));
    }

    [Fact]
    public void Elements_a_newer_version_adds_do_not_break_reading_and_the_location_s_own_are_kept_on_rewrite()
    {
        var newer = Sending();
        newer.Add("thumbnailMessageId", 99);
        newer["parts"][0].AsBsonDocument.Add("caption", "TeleGuard snapshot …");
        newer["sending"].AsBsonDocument.Add("attempt", 3);
        newer["gaps"][0].AsBsonDocument.Add("searchedAt", SentAt);

        var location = new SinkRecord { LocationDocument = newer }.LocationAs<TelegramLocation>()!;

        Assert.Equal(2, location.Sending!.Index);
        Assert.Equal(101, Assert.Single(location.Parts).MessageId);
        Assert.Equal(101, Assert.Single(location.Gaps).After);
        Assert.Equal(99, location.ToBsonDocument()["thumbnailMessageId"].AsInt32);
    }

    [Fact]
    public void A_removal_reads_as_what_was_deleted_left_and_searched_and_writes_back_unchanged()
    {
        var stored = new BsonDocument
        {
            { "deletedMessageIds", new BsonArray { 101, 104 } },
            { "undeletableMessageIds", new BsonArray { 103 } },
            { "orphanRanges", new BsonArray { new BsonDocument { { "after", 101 }, { "before", 103 } } } },
            { "reason", TelegramRetention.UndeletableReason },
        };
        var removal = StoredShape.RoundTripRemoval<TelegramRemoval>(stored);

        Assert.Equal([101, 104], removal.DeletedMessageIds);
        Assert.Equal([103], removal.UndeletableMessageIds);
        Assert.Equal((101, 103), (Assert.Single(removal.OrphanRanges).After, removal.OrphanRanges[0].Before));
        Assert.Equal(TelegramRetention.UndeletableReason, removal.Reason);
        Assert.Equal("1 messages too old for a bot to delete stay: delete them by hand",
            Destination().DescribeRemoval(new SinkRecord { RemovalDocument = stored }));

        // Everything deleted: no reason (recorded as null), nothing to add in status.
        var clean = new BsonDocument
        {
            { "deletedMessageIds", new BsonArray { 101 } }, { "undeletableMessageIds", new BsonArray() },
            { "orphanRanges", new BsonArray() }, { "reason", BsonNull.Value },
        };
        Assert.Null(StoredShape.RoundTripRemoval<TelegramRemoval>(clean).Reason);
        Assert.Null(Destination().DescribeRemoval(new SinkRecord { RemovalDocument = clean }));
    }
}

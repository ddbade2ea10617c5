using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;
using Telegram.Bot;
using Telegram.Bot.Exceptions;
using Telegram.Bot.Types;
using TeleGuard.Backup.Destinations.Telegram;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Telegram.Tests;

/// <summary>
/// The fake Bot API holds whatever talks to it to Telegram's limits, on what is actually sent: checked here with the
/// Telegram.Bot client directly (automatic retries off, as in the product), so that the sink's tests against the fake
/// prove something.
/// </summary>
public sealed class FakeTelegramBotApiTests : IAsyncDisposable
{
    private readonly List<FakeTelegramBotApi> _fakes = [];

    private async Task<(FakeTelegramBotApi Fake, TelegramBotClient Bot)> StartAsync(TimeProvider? clock = null, bool localServer = false)
    {
        var fake = await FakeTelegramBotApi.StartAsync(clock ?? TimeProvider.System, localServer);
        _fakes.Add(fake);
        return (fake, new TelegramBotClient(new TelegramBotClientOptions(fake.Token, fake.BaseUrl) { RetryCount = 0 }));
    }

    private static readonly ChatId Channel = new(FakeTelegramBotApi.ChatId);

    [Fact]
    public async Task A_chunked_upload_over_50_MB_is_counted_and_refused_with_413_and_one_under_it_is_accepted()
    {
        var (fake, bot) = await StartAsync();

        var refused = await Assert.ThrowsAsync<ApiRequestException>(() =>
            bot.SendDocument(Channel, InputFile.FromStream(new GeneratedStream(FakeTelegramBotApi.HostedUploadLimit + 1), "too-large.bin")));
        Assert.Equal(413, refused.ErrorCode);
        Assert.Equal("Request Entity Too Large", refused.Message);
        Assert.Empty(fake.Messages);
        var request = Assert.Single(fake.Requests);
        Assert.Null(request.ContentLength); // chunked: no header told the fake the size, it counted the bytes
        Assert.True(request.BodyBytes > FakeTelegramBotApi.HostedUploadLimit, $"{request.BodyBytes} bytes counted");

        var accepted = await bot.SendDocument(Channel, InputFile.FromStream(new GeneratedStream(49_000_000), "under.bin"), caption: "under");
        Assert.Equal(49_000_000, Assert.Single(fake.Messages).Size);
        Assert.Equal(accepted.Id, fake.Messages.Single().Id);
        Assert.Null(fake.Requests[^1].ContentLength);
    }

    [Fact]
    public async Task On_the_hosted_api_getFile_refuses_a_file_over_20_MB_and_a_local_server_serves_it()
    {
        const long size = FakeTelegramBotApi.HostedDownloadLimit + 1;
        var (hosted, hostedBot) = await StartAsync();
        var sent = await hostedBot.SendDocument(Channel, InputFile.FromStream(new GeneratedStream(size), "part.bin"));
        var refused = await Assert.ThrowsAsync<ApiRequestException>(() => hostedBot.GetFile(sent.Document!.FileId));
        Assert.Equal(400, refused.ErrorCode);
        Assert.Equal("Bad Request: file is too big", refused.Message);

        var (local, localBot) = await StartAsync(localServer: true);
        sent = await localBot.SendDocument(Channel, InputFile.FromStream(new GeneratedStream(size), "part.bin"));
        var file = await localBot.GetFile(sent.Document!.FileId);
        using var downloaded = new MemoryStream();
        await localBot.DownloadFile(file.FilePath!, downloaded);
        Assert.Equal(local.ReadFile(local.Messages.Single()), downloaded.ToArray());
        Assert.Equal(size, downloaded.Length);
    }

    [Fact]
    public async Task A_request_before_retry_after_has_passed_gets_429_again_whatever_the_method()
    {
        var (fake, bot) = await StartAsync();
        var document = await bot.SendDocument(Channel, InputFile.FromStream(new MemoryStream([1, 2, 3]), "small.bin"));
        fake.Flood("getFile", call: 1, retryAfterSeconds: 2);

        var flood = await Assert.ThrowsAsync<ApiRequestException>(() => bot.GetFile(document.Document!.FileId));
        var waited = Stopwatch.StartNew();
        Assert.Equal(429, flood.ErrorCode);
        Assert.Equal(2, flood.Parameters?.RetryAfter);
        Assert.Equal("Too Many Requests: retry after 2", flood.Message);

        // At once, and for other methods too: still refused, with what is left of the wait.
        foreach (var early in new Func<Task>[]
        {
            () => bot.GetFile(document.Document!.FileId),
            () => bot.DeleteMessages(Channel, [document.Id]),
            () => bot.SendDocument(Channel, InputFile.FromStream(new MemoryStream([4]), "other.bin")),
        })
        {
            var again = await Assert.ThrowsAsync<ApiRequestException>(early);
            Assert.Equal(429, again.ErrorCode);
            Assert.InRange(again.Parameters?.RetryAfter ?? 0, 1, 2);
        }

        Assert.Single(fake.Messages); // nothing refused was done

        // Once retry_after has passed (by the time the fake sees the request), the same call is answered.
        await Task.Delay(TimeSpan.FromSeconds(2) - waited.Elapsed + TimeSpan.FromMilliseconds(100));
        var file = await bot.GetFile(document.Document!.FileId);
        Assert.Equal(3, file.FileSize);
        var log = fake.Requests;
        Assert.Equal([200, 429, 429, 429, 429, 200], log.Select(r => r.Status));
        Assert.True(log[^1].ReceivedAt - log[1].AnsweredAt >= TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task DeleteMessages_takes_1_to_100_ids_and_leaves_messages_48_hours_old_in_place_answering_true()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 0, 0, 0, TimeSpan.Zero));
        var (fake, bot) = await StartAsync(clock);
        var ids = new List<int>();
        for (var i = 0; i < 101; i++)
        {
            ids.Add((await bot.SendDocument(Channel, InputFile.FromStream(new MemoryStream([(byte)i]), $"m{i}.bin"))).Id);
        }

        var tooMany = await Assert.ThrowsAsync<ApiRequestException>(() => bot.DeleteMessages(Channel, ids));
        Assert.Equal((400, "Bad Request: too many message identifiers specified"), (tooMany.ErrorCode, tooMany.Message));
        var none = await Assert.ThrowsAsync<ApiRequestException>(() => bot.DeleteMessages(Channel, []));
        Assert.Equal((400, "Bad Request: message identifiers are not specified"), (none.ErrorCode, none.Message));
        Assert.Equal(101, fake.Messages.Count);

        clock.Advance(TimeSpan.FromHours(47));
        await bot.DeleteMessages(Channel, ids.Take(100));
        Assert.Equal([ids[100]], fake.Messages.Select(m => m.Id));

        clock.Advance(TimeSpan.FromHours(1)); // 48 hours old: a bot can no longer delete it, and Telegram does not say so
        await bot.DeleteMessages(Channel, [ids[100]]);
        Assert.Equal([ids[100]], fake.Messages.Select(m => m.Id));
        var single = await Assert.ThrowsAsync<ApiRequestException>(() => bot.DeleteMessage(Channel, ids[100]));
        Assert.Equal("Bad Request: message can't be deleted", single.Message);
    }

    [Fact]
    public async Task A_caption_over_1024_characters_is_refused_and_the_longest_part_caption_is_far_under_it()
    {
        var (fake, bot) = await StartAsync();
        var refused = await Assert.ThrowsAsync<ApiRequestException>(() =>
            bot.SendDocument(Channel, InputFile.FromStream(new MemoryStream([1]), "a.bin"), caption: new string('c', 1025)));
        Assert.Equal((400, "Bad Request: message caption is too long"), (refused.ErrorCode, refused.Message));
        await bot.SendDocument(Channel, InputFile.FromStream(new MemoryStream([1]), "a.bin"), caption: new string('c', 1024));

        var longest = PartCaption.For("20261126T000000Z", int.MaxValue, int.MaxValue, long.MaxValue, new string('f', 64));
        Assert.True(longest.Length <= 256, longest);
        await bot.SendDocument(Channel, InputFile.FromStream(new MemoryStream([1]), "b.bin"), caption: longest);
        Assert.Equal(longest, fake.Messages.Last().Caption);
        Assert.Throws<ArgumentException>(() => PartCaption.For(new string('9', 2000), 1, 1, 1, new string('f', 64)));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var fake in _fakes)
        {
            await fake.DisposeAsync();
        }
    }

    /// <summary><c>length</c> bytes of a repeating pattern, forward only: HttpClient cannot know the length, so it sends them chunked.</summary>
    private sealed class GeneratedStream(long length) : ReadOnlyStream
    {
        private long _position;

        public override int Read(byte[] buffer, int offset, int count)
        {
            var take = (int)Math.Min(count, length - _position);
            for (var i = 0; i < take; i++)
            {
                buffer[offset + i] = (byte)((_position + i) * 31 % 251);
            }

            _position += take;
            return take;
        }
    }
}

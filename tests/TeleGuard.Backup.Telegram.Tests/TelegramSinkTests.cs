using System.Security.Cryptography;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.Cli;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Crypto;
using TeleGuard.Backup.Destinations.Telegram;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Telegram.Tests;

/// <summary>
/// Every service in one host on RabbitMQ, the Telegram sink talking to the fake Bot API with the real Telegram.Bot client.
/// The sink runs with the hosted Bot API's rules (TELEGRAM_API_BASE_URL points at the fake as it would at a proxy, and
/// TELEGRAM_LOCAL_API is not set) against a fake enforcing them, except in the one test of a local Bot API server.
/// </summary>
public sealed class TelegramSinkTests : IAsyncDisposable
{
    private readonly TemporaryDirectory _work = new();
    private readonly CapturedLogs _logs = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 26, 0, 0, 0, TimeSpan.Zero));
    private readonly List<IAsyncDisposable> _disposables = [];
    private IHost? _host;

    private async Task<(IHost Host, FakeTelegramBotApi Telegram, BackupsMetaStore Meta)> StartAsync(
        Dictionary<string, string?>? overrides = null, bool fakeClock = false, bool localServer = false)
    {
        var telegram = await FakeTelegramBotApi.StartAsync(fakeClock ? _time : TimeProvider.System, localServer);
        _disposables.Add(telegram);
        var vhost = await TestServices.RabbitMqVirtualHostAsync();
        _disposables.Add(vhost);
        var settings = new Dictionary<string, string?>
        {
            ["MONGODB_URI"] = await TestServices.MongoReplicaSetUriAsync(),
            ["RABBITMQ_URI"] = vhost.AmqpUri,
            ["REDIS_URL"] = await TestServices.RedisUrlAsync(),
            ["REDIS_KEY_PREFIX"] = TestServices.UniqueName("test"),
            ["SNAPSHOT_DIR"] = _work.Path,
            ["ARTIFACT_STORE"] = "directory",
            ["ARTIFACT_DIR"] = Path.Combine(_work.Path, "artifacts"),
            ["TELEGRAM_BOT_TOKEN"] = telegram.Token,
            ["TELEGRAM_CHANNEL_ID"] = FakeTelegramBotApi.ChatId.ToString(),
            ["TELEGRAM_API_BASE_URL"] = telegram.BaseUrl,
            ["RETRY_LIMIT"] = "1",
            ["RETRY_MIN_SECONDS"] = "0",
            ["LOG_LEVEL"] = "Trace",
        };
        foreach (var (key, value) in overrides ?? [])
        {
            settings[key] = value;
        }

        var builder = TestHosts.CreateBuilder(settings);
        if (fakeClock)
        {
            builder.Services.AddSingleton<TimeProvider>(_time);
        }

        builder.AddBackupDefaults();
        builder.Logging.AddProvider(_logs);
        builder.AddAllBackupServices(includeScheduler: false);
        builder.AddBackupBus();
        _host = builder.Build();
        await _host.StartAsync();
        return (_host, telegram, _host.Services.GetRequiredService<BackupsMetaStore>());
    }

    /// <summary>What <c>restore --from telegram</c> reads: the sink's variables, with or without TELEGRAM_LOCAL_API and a key.</summary>
    private static IConfiguration RestoreConfiguration(FakeTelegramBotApi telegram, bool localApi, byte[]? key = null) =>
        new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["TELEGRAM_BOT_TOKEN"] = telegram.Token,
            ["TELEGRAM_CHANNEL_ID"] = FakeTelegramBotApi.ChatId.ToString(),
            ["TELEGRAM_API_BASE_URL"] = telegram.BaseUrl,
            ["TELEGRAM_LOCAL_API"] = localApi ? "true" : null,
            ["TELEGRAM_ENCRYPTION_KEY"] = key is null ? null : Convert.ToBase64String(key),
        }).Build();

    /// <summary>
    /// From the fake's own log: <paramref name="floods"/> 429s were answered, no request came back before retry_after had
    /// passed (the fake would have answered it 429 again), and the request after each 429 came at least that late.
    /// </summary>
    private static void AssertFloodsWaitedOut(FakeTelegramBotApi telegram, int floods)
    {
        var log = telegram.Requests;
        var refused = log.Where(r => r.Status == 429).ToList();
        Assert.Equal(floods, refused.Count);
        foreach (var flood in refused)
        {
            var next = log.Where(r => r.ReceivedAt > flood.AnsweredAt).MinBy(r => r.ReceivedAt);
            Assert.NotNull(next);
            Assert.Equal((flood.Method, 200), (next.Method, next.Status));
            var gap = next.ReceivedAt - flood.AnsweredAt;
            Assert.True(gap >= TimeSpan.FromSeconds(flood.RetryAfter!.Value), $"{flood.Method}: retried {gap.TotalMilliseconds:0} ms after a 429 with retry_after {flood.RetryAfter}");
        }
    }

    private static Task<BackupRecord> FinishedAsync(BackupsMetaStore meta, string id) =>
        TestHosts.EventuallyAsync(async () => await meta.GetAsync(id, CancellationToken.None) is { } r && BackupStatus.IsFinal(r.Status) ? r : null,
            TimeSpan.FromSeconds(120), $"snapshot {id} to finish");

    [Fact]
    public async Task A_45_MB_archive_arrives_as_three_parts_of_at_most_19_MiB_whose_concatenation_has_the_recorded_sha256()
    {
        var (host, telegram, meta) = await StartAsync();
        const string id = "20261126T040000Z";
        await SyntheticSnapshots.AnnounceAsync(host.Services, _work.Path, id, 60L * 1024 * 1024);
        var record = await FinishedAsync(meta, id);
        var location = record.Sinks[BackupSinks.Telegram].LocationAs<TelegramLocation>()!;
        Assert.True(record.Sinks[BackupSinks.Telegram].Status == SinkStatus.Succeeded, record.Sinks[BackupSinks.Telegram].Error);

        var messages = telegram.Messages;
        Assert.Equal(3, messages.Count);
        Assert.True(location.ArchiveSize > 45_000_000, $"archive of {location.ArchiveSize} bytes");
        Assert.All(messages, m => Assert.True(m.Size <= 19 * 1024 * 1024, $"{m.FileName}: {m.Size} bytes"));
        using var whole = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var message in messages)
        {
            whole.AppendData(telegram.ReadFile(message));
        }

        var sha256 = Convert.ToHexStringLower(whole.GetHashAndReset());
        Assert.Equal(location.ArchiveSha256, sha256);
        // Compressed once: what Telegram holds is the stored artifact, byte for byte (the sink did not gzip it again).
        Assert.Equal((record.Artifact!.Size, record.Artifact.Sha256), (location.ArchiveSize, sha256));
        Assert.Equal(messages.Select(m => m.Id), location.MessageIds!);
        Assert.Equal($"TeleGuard snapshot {id} · part 2/3 · archive {location.ArchiveSize} bytes · sha256 {sha256}", messages.ElementAt(1).Caption);
        Assert.DoesNotContain(telegram.Token, _logs.All);
    }

    /// <summary>
    /// An artifact stored by an earlier version is a plain tar: the sink compresses it itself, so the channel still gets
    /// gzip, and a restore from the channel reads it back to the recorded documents.
    /// </summary>
    [Fact]
    public async Task An_uncompressed_artifact_of_an_earlier_version_is_sent_gzip_compressed_and_restores()
    {
        var (host, telegram, meta) = await StartAsync();
        const string id = "20261126T090000Z";
        await SyntheticSnapshots.AnnounceAsync(host.Services, _work.Path, id, 2L * 1024 * 1024, compressed: false);
        var record = await FinishedAsync(meta, id);
        Assert.True(record.Sinks[BackupSinks.Telegram].Status == SinkStatus.Succeeded, record.Sinks[BackupSinks.Telegram].Error);
        var location = record.Sinks[BackupSinks.Telegram].LocationAs<TelegramLocation>()!;
        var sent = telegram.ReadFile(Assert.Single(telegram.Messages));
        Assert.Equal([0x1f, 0x8b], sent[..2]);
        Assert.True(location.ArchiveSize < record.Artifact!.Size, $"{location.ArchiveSize} bytes sent for a {record.Artifact.Size}-byte tar");

        var manifest = await FetchFromTelegramAsync(RestoreConfiguration(telegram, localApi: false), meta, id, Path.Combine(_work.Path, "restored"));
        Assert.Equal((id, record.Manifest!.Documents), (manifest.SnapshotId, manifest.TotalDocuments));
    }

    /// <summary>
    /// With TELEGRAM_ENCRYPTION_KEY, what Telegram receives is ciphertext: no part is gzip or holds a line of the snapshot,
    /// the joined parts are the documented format under the Telegram key's id and decrypt with that key to the archive.
    /// A restore needs that key: without it, or with another, it is refused before anything is downloaded.
    /// </summary>
    [Fact]
    public async Task With_a_telegram_key_the_parts_are_ciphertext_under_its_key_id_and_only_that_key_restores_them()
    {
        var key = EncryptionKeyRing.GenerateKey();
        var keyId = EncryptionKeyRing.KeyIdOf(key);
        var (host, telegram, meta) = await StartAsync(new() { ["TELEGRAM_PART_SIZE_MB"] = "1", ["TELEGRAM_ENCRYPTION_KEY"] = Convert.ToBase64String(key) });
        const string id = "20261126T090000Z";
        await SyntheticSnapshots.AnnounceAsync(host.Services, _work.Path, id, (long)(3.3 * 1024 * 1024));
        var record = await FinishedAsync(meta, id);
        var copy = record.Sinks[BackupSinks.Telegram];
        Assert.True(copy.Status == SinkStatus.Succeeded, copy.Error);
        Assert.True(copy.LocationAs<TelegramLocation>()!.Encrypted);
        Assert.Equal(keyId, copy.LocationAs<TelegramLocation>()!.KeyId);

        var messages = telegram.Messages;
        Assert.Equal(3, messages.Count);
        Assert.Equal(Enumerable.Range(1, 3).Select(n => $"teleguard-{id}.tgb.part{n:000}of003"), messages.Select(m => m.FileName));
        Assert.All(messages, m => Assert.EndsWith($" · encrypted with key {keyId}", m.Caption));
        var parts = messages.Select(telegram.ReadFile).ToList();
        var marker = "{\"_id\":{\"$numberInt\":\"0\"},\"pad\":\""u8.ToArray(); // the snapshot's first line
        foreach (var part in parts)
        {
            Assert.False(part.AsSpan().StartsWith(new byte[] { 0x1f, 0x8b }), "a part is gzip");
            Assert.Equal(-1, part.AsSpan().IndexOf(marker));
            Assert.Equal(-1, part.AsSpan().IndexOf("ustar"u8));
        }

        var joined = parts.SelectMany(p => p).ToArray();
        Assert.Equal(new EncryptedFileHeader(2, keyId, StreamingEncryption.DefaultChunkBytes, id), StreamingEncryption.ParseHeader(joined));
        using var compressed = new MemoryStream();
        await StreamingEncryption.DecryptAsync(new MemoryStream(joined), compressed, new EncryptionKeyRing(key), id, CancellationToken.None);
        compressed.Position = 0;
        using var archive = new MemoryStream();
        await using (var gunzip = new System.IO.Compression.GZipStream(compressed, System.IO.Compression.CompressionMode.Decompress))
        {
            await gunzip.CopyToAsync(archive);
        }

        Assert.True(archive.ToArray().AsSpan().IndexOf(marker) > 0, "the decrypted archive holds the snapshot");

        var manifest = await FetchFromTelegramAsync(RestoreConfiguration(telegram, localApi: false, key), meta, id, Path.Combine(_work.Path, "restored"));
        Assert.Equal(id, manifest.SnapshotId);

        var before = telegram.Requests.Count;
        var missing = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            FetchFromTelegramAsync(RestoreConfiguration(telegram, localApi: false), meta, id, Path.Combine(_work.Path, "no-key")));
        Assert.Equal($"Snapshot {id}: the Telegram copy is encrypted with key {keyId}; set TELEGRAM_ENCRYPTION_KEY (or TELEGRAM_ENCRYPTION_PREVIOUS_KEYS) to that key to restore it.", missing.Message);
        var otherKey = EncryptionKeyRing.GenerateKey();
        var wrong = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            FetchFromTelegramAsync(RestoreConfiguration(telegram, localApi: false, otherKey), meta, id, Path.Combine(_work.Path, "wrong-key")));
        Assert.Equal($"Snapshot {id}: the Telegram copy is encrypted with key {keyId}, which is neither TELEGRAM_ENCRYPTION_KEY (key {EncryptionKeyRing.KeyIdOf(otherKey)}) nor among TELEGRAM_ENCRYPTION_PREVIOUS_KEYS.", wrong.Message);
        Assert.Equal(before, telegram.Requests.Count); // refused before downloading anything
        Assert.False(Directory.Exists(Path.Combine(_work.Path, "no-key")));
        Assert.False(Directory.Exists(Path.Combine(_work.Path, "wrong-key")));
        Assert.DoesNotContain(Convert.ToBase64String(key), _logs.All);
        Assert.DoesNotContain(Convert.ToBase64String(key), record.ToBsonDocument().ToJson());
    }

    [Fact]
    public async Task A_429_on_part_2_of_3_is_waited_out_and_a_redelivery_posts_nothing()
    {
        var (host, telegram, meta) = await StartAsync(new() { ["TELEGRAM_PART_SIZE_MB"] = "1" });
        telegram.Flood("sendDocument", call: 2, retryAfterSeconds: 2);
        const string id = "20261126T050000Z";
        var announced = await SyntheticSnapshots.AnnounceAsync(host.Services, _work.Path, id, (long)(3.3 * 1024 * 1024));
        var record = await FinishedAsync(meta, id);
        Assert.Equal(SinkStatus.Succeeded, record.Sinks[BackupSinks.Telegram].Status);
        Assert.Equal(3, telegram.Messages.Count);
        Assert.Equal(["1/3", "2/3", "3/3"], telegram.Messages.Select(m => m.Caption.Split(" · ")[1].Split(' ')[1]));
        AssertFloodsWaitedOut(telegram, floods: 1);
        Assert.Contains(_logs.Lines, l => l.Contains("flood control, waiting 2 s"));

        await host.Services.GetRequiredService<IBus>().Publish(announced);
        await TestHosts.EventuallyAsync(() => Task.FromResult(_logs.All.Contains($"snapshot {id} already copied") ? "seen" : null),
            TimeSpan.FromSeconds(30), "the redelivery to be handled");
        Assert.Equal(3, telegram.Messages.Count);
        Assert.Equal(1, (await meta.GetAsync(id, CancellationToken.None))!.Sinks[BackupSinks.Telegram].Attempts);
    }

    [Fact]
    public async Task Flood_control_on_getFile_and_deleteMessages_is_waited_out_as_long_as_retry_after_asks()
    {
        var (host, telegram, meta) = await StartAsync(new() { ["TELEGRAM_PART_SIZE_MB"] = "1", ["RETENTION_HOURS"] = "8" });
        const string expired = "20200101T000000Z", lastGood = "20200101T010000Z"; // ids long past the retention
        await SyntheticSnapshots.AnnounceAsync(host.Services, _work.Path, expired, (long)(3.3 * 1024 * 1024));
        var parts = (await FinishedAsync(meta, expired)).Sinks[BackupSinks.Telegram].LocationAs<TelegramLocation>()!.MessageIds!;
        Assert.Equal(3, parts.Count);
        await SyntheticSnapshots.AnnounceAsync(host.Services, _work.Path, lastGood, 10_000);
        await FinishedAsync(meta, lastGood);

        // A restore whose second getFile meets flood control.
        telegram.Flood("getFile", call: 2, retryAfterSeconds: 2);
        var manifest = await FetchFromTelegramAsync(RestoreConfiguration(telegram, localApi: false), meta, expired, Path.Combine(_work.Path, "restored"));
        Assert.Equal(expired, manifest.SnapshotId);

        // A cleanup whose first deleteMessages meets it.
        telegram.FloodNext("deleteMessages", retryAfterSeconds: 1);
        await host.Services.GetRequiredService<IBus>().Publish(new CleanupRequested(SnapshotIds.FromTime(DateTimeOffset.UtcNow), DateTimeOffset.UtcNow, "schedule"));
        var removed = await TestHosts.EventuallyAsync(async () =>
            await meta.GetAsync(expired, CancellationToken.None) is { } r && r.Sinks[BackupSinks.Telegram].RemovedAt is not null ? r : null,
            TimeSpan.FromSeconds(60), "the cleanup to remove the expired copy");
        Assert.Equal(parts, removed.Sinks[BackupSinks.Telegram].RemovalAs<TelegramRemoval>()!.DeletedMessageIds);
        Assert.All(parts, id => Assert.DoesNotContain(telegram.Messages, m => m.Id == id));

        AssertFloodsWaitedOut(telegram, floods: 2);
        Assert.Equal(["deleteMessages", "getFile"], telegram.Requests.Where(r => r.Status == 429).Select(r => r.Method).Order());
    }

    [Fact]
    public async Task Cleanup_deletes_a_copy_47_hours_old_and_leaves_one_49_hours_old_in_the_channel_recording_why()
    {
        var (host, telegram, meta) = await StartAsync(new() { ["RETENTION_HOURS"] = "8" }, fakeClock: true);
        async Task<int> UploadAsync(string id)
        {
            await SyntheticSnapshots.AnnounceAsync(host.Services, _work.Path, id, 10_000);
            return (await FinishedAsync(meta, id)).Sinks[BackupSinks.Telegram].LocationAs<TelegramLocation>()!.MessageIds!.Single();
        }

        const string old = "20261126T000000Z", younger = "20261126T020000Z", lastGood = "20261126T030000Z";
        var oldMessage = await UploadAsync(old);
        _time.Advance(TimeSpan.FromHours(2));
        var youngerMessage = await UploadAsync(younger);
        _time.Advance(TimeSpan.FromHours(1));
        var lastGoodMessage = await UploadAsync(lastGood);

        // 49 hours after the first upload: it is past Telegram's 48 hours, the second one (47 hours) is not.
        _time.Advance(TimeSpan.FromHours(46));
        var before = telegram.Requests.Count;
        await host.Services.GetRequiredService<IBus>().Publish(new CleanupRequested(SnapshotIds.FromTime(_time.GetUtcNow()), DateTimeOffset.UtcNow, "schedule"));
        async Task<BackupRecord> RemovedAsync(string id) => await TestHosts.EventuallyAsync(async () =>
            await meta.GetAsync(id, CancellationToken.None) is { } r && r.Sinks[BackupSinks.Telegram].RemovedAt is not null ? r : null,
            TimeSpan.FromSeconds(30), $"the cleanup to handle the copy of {id}");
        var (oldRecord, youngerRecord) = (await RemovedAsync(old), await RemovedAsync(younger));

        Assert.DoesNotContain(telegram.Messages, m => m.Id == youngerMessage);
        Assert.Equal([youngerMessage], youngerRecord.Sinks[BackupSinks.Telegram].RemovalAs<TelegramRemoval>()!.DeletedMessageIds);

        // The old message stays, and backups_meta says so and why; it was never offered to deleteMessages, whose "true"
        // would have said nothing about it.
        Assert.Contains(telegram.Messages, m => m.Id == oldMessage);
        var removal = oldRecord.Sinks[BackupSinks.Telegram].RemovalAs<TelegramRemoval>()!;
        Assert.Empty(removal.DeletedMessageIds);
        Assert.Equal([oldMessage], removal.UndeletableMessageIds);
        Assert.Equal(TelegramRetention.UndeletableReason, removal.Reason);
        var deleteCalls = telegram.Requests.Skip(before).Where(r => r.Method == "deleteMessages").ToList();
        Assert.Equal([youngerMessage], deleteCalls.SelectMany(r => r.Parameters!["message_ids"]!.AsArray().Select(n => (int)n!)));
        Assert.Contains(_logs.Lines, l => l.Contains("cleanup") && l.Contains("deleted 1 message; 1 too old for a bot to delete stay in the channel"));

        Assert.Contains(telegram.Messages, m => m.Id == lastGoodMessage); // the last good copy, however old
    }

    [Fact]
    public async Task A_copy_sent_to_another_chat_than_the_channel_configured_now_is_left_alone_and_recorded()
    {
        var (host, telegram, meta) = await StartAsync(new() { ["RETENTION_HOURS"] = "8" }, fakeClock: true);
        const string old = "20261126T000000Z", lastGood = "20261126T010000Z";
        await SyntheticSnapshots.AnnounceAsync(host.Services, _work.Path, old, 10_000);
        var oldMessage = (await FinishedAsync(meta, old)).Sinks[BackupSinks.Telegram].LocationAs<TelegramLocation>()!.MessageIds!.Single();
        _time.Advance(TimeSpan.FromHours(1));
        await SyntheticSnapshots.AnnounceAsync(host.Services, _work.Path, lastGood, 10_000);
        await FinishedAsync(meta, lastGood);
        // The operator moved the backups to another channel since: message ids are per chat.
        var records = host.Services.GetRequiredService<IMongoDatabase>().GetCollection<BsonDocument>(BackupsMetaStore.CollectionName);
        await records.UpdateOneAsync(new BsonDocument("_id", old), Builders<BsonDocument>.Update.Set("sinks.telegram.location.chatId", "-1009999999999"));

        _time.Advance(TimeSpan.FromHours(9));
        var before = telegram.Requests.Count;
        await host.Services.GetRequiredService<IBus>().Publish(new CleanupRequested(SnapshotIds.FromTime(_time.GetUtcNow()), DateTimeOffset.UtcNow, "schedule"));
        var removed = await TestHosts.EventuallyAsync(async () =>
            await meta.GetAsync(old, CancellationToken.None) is { } r && r.Sinks[BackupSinks.Telegram].RemovedAt is not null ? r : null,
            TimeSpan.FromSeconds(30), "the cleanup to handle the old copy");

        Assert.Contains(telegram.Messages, m => m.Id == oldMessage); // the same id in the configured channel is not its message
        var removal = removed.Sinks[BackupSinks.Telegram].RemovalAs<TelegramRemoval>()!;
        Assert.Equal([oldMessage], removal.UndeletableMessageIds);
        Assert.Contains("sent to chat -1009999999999", removal.Reason);
        Assert.DoesNotContain(telegram.Requests.Skip(before), r => r.Method == "deleteMessages");
    }

    [Fact]
    public async Task A_snapshot_of_more_than_100_parts_is_deleted_with_deleteMessages_calls_of_at_most_100_ids()
    {
        var (host, telegram, meta) = await StartAsync(new() { ["TELEGRAM_PART_SIZE_MB"] = "1", ["RETENTION_HOURS"] = "8" }, fakeClock: true);
        const string large = "20261126T000000Z", lastGood = "20261126T010000Z";
        await SyntheticSnapshots.AnnounceAsync(host.Services, _work.Path, large, 140L * 1024 * 1024); // compresses to over 100 MiB
        var parts = (await FinishedAsync(meta, large)).Sinks[BackupSinks.Telegram].LocationAs<TelegramLocation>()!.MessageIds!;
        Assert.True(parts.Count > 100, $"{parts.Count} parts");
        _time.Advance(TimeSpan.FromHours(1));
        await SyntheticSnapshots.AnnounceAsync(host.Services, _work.Path, lastGood, 10_000);
        await FinishedAsync(meta, lastGood);

        _time.Advance(TimeSpan.FromHours(9));
        var before = telegram.Requests.Count;
        await host.Services.GetRequiredService<IBus>().Publish(new CleanupRequested(SnapshotIds.FromTime(_time.GetUtcNow()), DateTimeOffset.UtcNow, "schedule"));
        var record = await TestHosts.EventuallyAsync(async () =>
            await meta.GetAsync(large, CancellationToken.None) is { } r && r.Sinks[BackupSinks.Telegram].RemovedAt is not null ? r : null,
            TimeSpan.FromSeconds(60), "the cleanup to remove the large copy");

        var calls = telegram.Requests.Skip(before).Where(r => r.Method == "deleteMessages").ToList();
        Assert.All(calls, c => Assert.Equal(200, c.Status));
        var batches = calls.Select(c => c.Parameters!["message_ids"]!.AsArray().Select(n => (int)n!).ToList()).ToList();
        Assert.Equal([100, parts.Count - 100], batches.Select(b => b.Count));
        Assert.Equal(parts.Order(), batches.SelectMany(b => b).Order());
        Assert.All(parts, id => Assert.DoesNotContain(telegram.Messages, m => m.Id == id));
        Assert.Equal(parts, record.Sinks[BackupSinks.Telegram].RemovalAs<TelegramRemoval>()!.DeletedMessageIds);
    }

    /// <summary>
    /// The one test with a local Bot API server: parts over Telegram's hosted limits are sent and restored; the same
    /// record, restored with hosted rules (no TELEGRAM_LOCAL_API), is refused in one line before anything is downloaded.
    /// </summary>
    [Fact]
    public async Task With_a_local_server_parts_over_20_MB_are_sent_and_restored_and_a_hosted_restore_refuses_them_in_one_line()
    {
        var (host, telegram, meta) = await StartAsync(new() { ["TELEGRAM_LOCAL_API"] = "true", ["TELEGRAM_PART_SIZE_MB"] = "21" }, localServer: true);
        const string id = "20261126T080000Z";
        await SyntheticSnapshots.AnnounceAsync(host.Services, _work.Path, id, 30L * 1024 * 1024);
        var record = await FinishedAsync(meta, id);
        Assert.True(record.Sinks[BackupSinks.Telegram].Status == SinkStatus.Succeeded, record.Sinks[BackupSinks.Telegram].Error);
        Assert.Equal(2, telegram.Messages.Count);
        Assert.Equal(21L * 1024 * 1024, telegram.Messages.First().Size);
        Assert.True(telegram.Messages.First().Size > FakeTelegramBotApi.HostedDownloadLimit);

        var manifest = await FetchFromTelegramAsync(RestoreConfiguration(telegram, localApi: true), meta, id, Path.Combine(_work.Path, "local"));
        Assert.Equal(id, manifest.SnapshotId);

        var before = telegram.Requests.Count;
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            FetchFromTelegramAsync(RestoreConfiguration(telegram, localApi: false), meta, id, Path.Combine(_work.Path, "hosted")));
        Assert.Equal(
            $"Snapshot {id}: Telegram part 1 is {21L * 1024 * 1024} bytes, more than the hosted Bot API serves (20 MB); " +
            "restore it through a local Bot API server (TELEGRAM_API_BASE_URL and TELEGRAM_LOCAL_API=true).", refused.Message);
        Assert.Equal(before, telegram.Requests.Count); // refused before asking Telegram for anything
        Assert.False(Directory.Exists(Path.Combine(_work.Path, "hosted")));
    }

    [Fact]
    public async Task After_nine_hours_cleanup_deletes_exactly_the_snapshots_older_than_eight_hours_and_never_the_last_good_one()
    {
        var (host, telegram, meta) = await StartAsync(new() { ["RETENTION_HOURS"] = "8" }, fakeClock: true);
        var bus = host.Services.GetRequiredService<IBus>();
        var sent = new Dictionary<string, int>();
        for (var hour = 0; hour <= 9; hour++)
        {
            var id = SnapshotIds.FromTime(_time.GetUtcNow());
            await SyntheticSnapshots.AnnounceAsync(host.Services, _work.Path, id, 10_000);
            var record = await FinishedAsync(meta, id);
            sent[id] = record.Sinks[BackupSinks.Telegram].LocationAs<TelegramLocation>()!.MessageIds!.Single();
            if (hour < 9)
            {
                _time.Advance(TimeSpan.FromHours(1));
            }
        }

        // Nine hours after the first snapshot: only the 00:00 one is older than eight hours.
        await bus.Publish(new CleanupRequested(SnapshotIds.FromTime(_time.GetUtcNow()), DateTimeOffset.UtcNow, "schedule"));
        await TestHosts.EventuallyAsync(async () =>
            (await meta.GetAsync("20261126T000000Z", CancellationToken.None))!.Sinks[BackupSinks.Telegram].RemovedAt is not null ? "done" : null,
            TimeSpan.FromSeconds(30), "the first cleanup");
        Assert.Equal([sent["20261126T000000Z"]], telegram.Deleted.Order());
        Assert.Equal(9, telegram.Messages.Count);

        // Backups stall; 51 hours later the 01:00–08:00 messages are past Telegram's 48-hour limit: recorded, not
        // retried; the 09:00 snapshot, the last good one, stays although it is older than the retention.
        _time.Advance(TimeSpan.FromHours(51));
        await bus.Publish(new CleanupRequested(SnapshotIds.FromTime(_time.GetUtcNow()), DateTimeOffset.UtcNow, "schedule"));
        var eight = await TestHosts.EventuallyAsync(async () =>
            await meta.GetAsync("20261126T080000Z", CancellationToken.None) is { } r && r.Sinks[BackupSinks.Telegram].RemovedAt is not null ? r : null,
            TimeSpan.FromSeconds(30), "the second cleanup");
        Assert.Equal([sent["20261126T080000Z"]], eight.Sinks[BackupSinks.Telegram].RemovalAs<TelegramRemoval>()!.UndeletableMessageIds);
        Assert.Single(telegram.Deleted);
        var last = await meta.GetAsync("20261126T090000Z", CancellationToken.None);
        Assert.Null(last!.Sinks[BackupSinks.Telegram].RemovedAt);
        Assert.Contains(telegram.Messages, m => m.Id == sent["20261126T090000Z"]);
    }

    [Fact]
    public async Task Retention_while_an_old_snapshot_is_being_uploaded_deletes_no_part_of_it()
    {
        var (host, telegram, meta) = await StartAsync(new() { ["TELEGRAM_PART_SIZE_MB"] = "1", ["RETENTION_HOURS"] = "8" }, fakeClock: true);
        const string expired = "20261126T000000Z", lastGood = "20261126T050000Z", uploading = "20261126T010000Z";
        await SyntheticSnapshots.AnnounceAsync(host.Services, _work.Path, expired, 10_000);
        var expiredMessage = (await FinishedAsync(meta, expired)).Sinks[BackupSinks.Telegram].LocationAs<TelegramLocation>()!.MessageIds!.Single();
        await SyntheticSnapshots.AnnounceAsync(host.Services, _work.Path, lastGood, 10_000);
        await FinishedAsync(meta, lastGood);

        // A late delivery of the 01:00 snapshot: three parts, the second held on its way (calls 1 and 2 were the others).
        var hold = new SendHold(call: 4);
        telegram.HoldOnSend = hold;
        await SyntheticSnapshots.AnnounceAsync(host.Services, _work.Path, uploading, (long)(3.3 * 1024 * 1024));
        await hold.Arrived.Task.WaitAsync(TimeSpan.FromSeconds(60));
        var firstPart = Assert.Single(telegram.Messages, m => m.Caption.Contains($"snapshot {uploading} ", StringComparison.Ordinal));

        // Ten hours on, cleanup runs: 00:00 and 01:00 are past RETENTION_HOURS, 05:00 is the last good copy.
        _time.Advance(TimeSpan.FromHours(10));
        await host.Services.GetRequiredService<IBus>().Publish(new CleanupRequested(SnapshotIds.FromTime(_time.GetUtcNow()), DateTimeOffset.UtcNow, "schedule"));
        await TestHosts.EventuallyAsync(async () =>
            (await meta.GetAsync(expired, CancellationToken.None))!.Sinks[BackupSinks.Telegram].RemovedAt is not null ? "done" : null,
            TimeSpan.FromSeconds(30), "the cleanup to remove the expired copy");

        hold.Release.TrySetResult();
        var record = await FinishedAsync(meta, uploading);
        var copy = record.Sinks[BackupSinks.Telegram];
        Assert.Equal(SinkStatus.Succeeded, copy.Status);
        var recorded = copy.LocationAs<TelegramLocation>()!.MessageIds!;
        Assert.Equal(3, recorded.Count);
        Assert.Contains(firstPart.Id, recorded);
        Assert.All(recorded, id => Assert.Contains(telegram.Messages, m => m.Id == id)); // every part is still in the channel
        Assert.Equal([expiredMessage], telegram.Deleted);
        Assert.Null(copy.RemovedAt);
    }

    /// <remarks>
    /// Encrypted too: the retry encrypts the archive again and must produce the same bytes, or part 1 would not be reused.
    /// </remarks>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_upload_that_loses_its_lease_deletes_the_part_it_just_sent_records_nothing_and_the_holder_finishes_the_copy(bool encrypted)
    {
        var (host, telegram, meta) = await StartAsync(new()
        {
            ["TELEGRAM_PART_SIZE_MB"] = "1",
            ["TELEGRAM_ENCRYPTION_KEY"] = encrypted ? Convert.ToBase64String(EncryptionKeyRing.GenerateKey()) : null,
        });
        var accepted = new SendHold(call: 2);
        telegram.HoldResponseOnSend = accepted; // Telegram takes part 2; its answer is slow to come
        const string id = "20261126T070000Z";
        await SyntheticSnapshots.AnnounceAsync(host.Services, _work.Path, id, (long)(3.3 * 1024 * 1024));
        await accepted.Arrived.Task.WaitAsync(TimeSpan.FromSeconds(60));
        var sentByLoser = accepted.Accepted!;

        // Meanwhile the lease ran out and another instance took the copy over.
        var records = host.Services.GetRequiredService<IMongoDatabase>().GetCollection<BsonDocument>(BackupsMetaStore.CollectionName);
        var holder = Builders<BsonDocument>.Update.Set("sinks.telegram.owner", "other-instance").Set("sinks.telegram.leaseUntil", DateTime.UtcNow.AddHours(1));
        await records.UpdateOneAsync(new BsonDocument("_id", id), holder);
        accepted.Release.TrySetResult();

        await TestHosts.EventuallyAsync(() => Task.FromResult(telegram.Deleted.Contains(sentByLoser.Id) ? "deleted" : null),
            TimeSpan.FromSeconds(30), "the part sent after the lease was lost to be deleted");
        var during = (await meta.GetAsync(id, CancellationToken.None))!.Sinks[BackupSinks.Telegram];
        Assert.Equal(SinkStatus.Running, during.Status);
        Assert.Equal("other-instance", during.Owner);
        Assert.Single(during.LocationAs<TelegramLocation>()!.Parts); // part 1 only: the loser recorded nothing after losing

        // The other instance goes away; the retried delivery takes over and completes the copy, reusing part 1.
        await records.UpdateOneAsync(new BsonDocument("_id", id), Builders<BsonDocument>.Update.Set("sinks.telegram.leaseUntil", DateTime.UtcNow.AddHours(-1)));
        var record = await FinishedAsync(meta, id);
        var copy = record.Sinks[BackupSinks.Telegram];
        Assert.Equal(SinkStatus.Succeeded, copy.Status);
        var recorded = copy.LocationAs<TelegramLocation>()!.MessageIds!;
        Assert.Equal(during.LocationAs<TelegramLocation>()!.Parts[0].MessageId, recorded[0]);
        Assert.DoesNotContain(sentByLoser.Id, recorded);
        Assert.Equal(recorded, telegram.Messages.Where(m => m.Caption.Contains($"snapshot {id} ", StringComparison.Ordinal)).Select(m => m.Id));
    }

    [Fact]
    public async Task A_wrong_token_fails_telegram_clearly_leaves_github_and_public_copies_unaffected_and_logs_no_token()
    {
        var git = GitServer.FromEnvironment();
        var (url, _) = git.CreateRepository();
        const string wrongToken = "123456789:CanaryWrongTelegramTokenAAAAAAAAAAAAAA";
        var (host, telegram, meta) = await StartAsync(new()
        {
            ["TELEGRAM_BOT_TOKEN"] = wrongToken,
            ["GITHUB_REPO"] = url.ToString(),
            ["GITHUB_PUBLIC_REPO"] = url.ToString(),
            ["GITHUB_TOKEN"] = git.Token,
            ["ENCRYPTION_KEY"] = Convert.ToBase64String(EncryptionKeyRing.GenerateKey()),
        });
        const string id = "20261126T060000Z";
        await SyntheticSnapshots.AnnounceAsync(host.Services, _work.Path, id, 50_000);
        var record = await FinishedAsync(meta, id);

        var outcome = record.Sinks[BackupSinks.Telegram];
        Assert.Equal(SinkStatus.Failed, outcome.Status);
        Assert.Contains("401", outcome.Error);
        Assert.Contains("TELEGRAM_BOT_TOKEN", outcome.Error);
        Assert.Equal(1, outcome.Attempts); // not retried: a wrong token stays wrong
        Assert.Equal(SinkStatus.Succeeded, record.Sinks[BackupSinks.GitHub].Status);
        Assert.Equal(SinkStatus.Succeeded, record.Sinks[BackupSinks.Public].Status);
        Assert.Equal(BackupStatus.Degraded, record.Status);
        Assert.Empty(telegram.Messages);
        Assert.DoesNotContain(wrongToken, _logs.All);
        Assert.DoesNotContain(wrongToken.Split(':')[1], _logs.All);
        Assert.DoesNotContain(wrongToken, record.ToBsonDocument().ToJson());
    }

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.StopAsync();
            _host.Dispose();
        }

        foreach (var disposable in _disposables)
        {
            await disposable.DisposeAsync();
        }

        _work.Dispose();
    }

    // The Telegram destination's reader, as restore and verify use it.
    private static async Task<SnapshotManifest> FetchFromTelegramAsync(IConfiguration configuration, BackupsMetaStore meta, string snapshot, string folder)
    {
        await using var services = new ServiceCollection().AddSingleton(configuration).AddSingleton(meta).AddTelegramDestination().BuildServiceProvider();
        return await services.GetRequiredService<TelegramDestination>().FetchAsync(snapshot, folder, CancellationToken.None);
    }
}

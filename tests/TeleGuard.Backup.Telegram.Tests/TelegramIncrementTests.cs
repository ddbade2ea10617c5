using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.Cli;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Destinations.Telegram;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Telegram.Tests;

/// <summary>
/// Increments in Telegram: announced with IncrementCreated, sent by the periodic sender as one message per
/// TELEGRAM_INCREMENT_MINUTES (1 here, on a fake clock), through the fake Bot API with the real client and RabbitMQ.
/// </summary>
public sealed class TelegramIncrementTests : IAsyncDisposable
{
    private readonly TemporaryDirectory _work = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 26, 0, 0, 30, TimeSpan.Zero));
    private readonly List<IAsyncDisposable> _disposables = [];
    private IHost? _host;

    private async Task<(IHost Host, FakeTelegramBotApi Telegram, Dictionary<string, string?> Settings)> StartAsync()
    {
        var telegram = await FakeTelegramBotApi.StartAsync(_time);
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
            ["TELEGRAM_INCREMENT_MINUTES"] = "1",
            ["RETRY_LIMIT"] = "1",
            ["RETRY_MIN_SECONDS"] = "0",
        };
        var builder = TestHosts.CreateBuilder(settings);
        builder.Services.AddSingleton<TimeProvider>(_time);
        builder.AddBackupDefaults();
        builder.AddAllBackupServices(includeScheduler: false);
        builder.AddBackupBus();
        _host = builder.Build();
        await _host.StartAsync();
        return (_host, telegram, settings);
    }

    // Increments as the recorder leaves them: the archive in the artifact store and the record in backups_meta.
    /// <summary>Four empty increments of a minute each, stored and recorded (not yet announced).</summary>
    private async Task<List<IncrementRecord>> StoreChainOfFourAsync(IServiceProvider services, string chain)
    {
        var database = services.GetRequiredService<IMongoDatabase>().DatabaseNamespace.DatabaseName;
        var start = new ClusterTimestamp(1_795_000_000, 1);
        var ends = Enumerable.Range(1, 4).Select(i => new ClusterTimestamp(start.T + (uint)(60 * i), 1)).ToArray();
        return await StoreAsync(services, await RecordedHistory.WriteIncrementsAsync(Path.Combine(_work.Path, "written"), database, chain, start, [], ends));
    }

    private static async Task<List<IncrementRecord>> StoreAsync(IServiceProvider services, IReadOnlyList<ExtractedIncrement> increments)
    {
        var store = services.GetRequiredService<IArtifactStore>();
        var records = new List<IncrementRecord>();
        foreach (var increment in increments)
        {
            var manifest = increment.Manifest;
            var stored = await store.SaveAsync(manifest.IncrementId, (stream, ct) => IncrementArchive.WriteAsync(manifest, increment.EventsFile, stream, ct), CancellationToken.None);
            var record = new IncrementRecord
            {
                Id = manifest.IncrementId, Database = manifest.Database, Chain = manifest.Chain, Sequence = manifest.Sequence, BaseSnapshotId = manifest.BaseSnapshotId,
                From = ChangeEventLine.ToBsonTimestamp(manifest.From), To = ChangeEventLine.ToBsonTimestamp(manifest.To), Events = manifest.Events,
                Sha256 = manifest.Sha256, PreviousSha256 = manifest.PreviousSha256, ClosedAt = manifest.ClosedAt.UtcDateTime,
                Artifact = new ArtifactRecord { Location = stored.Location, Size = stored.Size, Sha256 = stored.Sha256 },
                ResumeToken = new BsonDocument("_data", "test"), Recorder = "test",
            };
            Assert.True(await services.GetRequiredService<IncrementsStore>().TryInsertAsync(record, CancellationToken.None));
            records.Add(record);
        }

        return records;
    }

    private static IncrementCreated Announcement(IncrementRecord record) =>
        new(record.Id, record.Chain, record.Sequence, record.BaseSnapshotId, record.ClosedAt, record.From.Timestamp, record.To.Timestamp, record.Events,
            record.Artifact.Location, record.Artifact.Size, record.Artifact.Sha256);

    private static Task<List<IncrementRecord>> DueAsync(IServiceProvider services, IReadOnlyList<IncrementRecord> expected) =>
        TestHosts.EventuallyAsync(async () =>
        {
            var found = await Task.WhenAll(expected.Select(e => services.GetRequiredService<IncrementsStore>().GetAsync(e.Id, CancellationToken.None)));
            return found.All(f => f!.Sinks.ContainsKey(BackupSinks.Telegram)) ? found.Select(f => f!).ToList() : null;
        }, TimeSpan.FromSeconds(60), "the increments to be due in Telegram");

    // Moves the clock a period on until the channel holds `count` batch messages.
    private async Task<List<FakeMessage>> BatchesAsync(FakeTelegramBotApi telegram, int count) =>
        await TestHosts.EventuallyAsync(() =>
        {
            _time.Advance(TimeSpan.FromMinutes(1));
            var batches = telegram.Messages.Where(m => m.Caption.StartsWith("TeleGuard increment", StringComparison.Ordinal)).ToList();
            return Task.FromResult(batches.Count >= count ? batches : null);
        }, TimeSpan.FromSeconds(60), $"{count} increment batches in the channel");

    // The batch recorded as holding the increment (recorded just after its message is sent).
    private static Task<string> BatchOfAsync(IServiceProvider services, string incrementId) =>
        TestHosts.EventuallyAsync(async () =>
            (await services.GetRequiredService<IncrementsStore>().GetAsync(incrementId, CancellationToken.None))!
                .Sinks[BackupSinks.Telegram].LocationAs<TelegramIncrementLocation>()?.BatchId, TimeSpan.FromSeconds(30), $"increment {incrementId} to be recorded as sent");

    [Fact]
    public async Task Increments_announced_in_a_period_go_as_one_message_and_a_redelivered_announcement_sends_nothing_again()
    {
        var (host, telegram, _) = await StartAsync();
        const string chain = "20261126T000000Z";
        var records = await StoreChainOfFourAsync(host.Services, chain);
        var bus = host.Services.GetRequiredService<IBus>();

        foreach (var record in records.Take(3).Append(records[0]))
        {
            await bus.Publish(Announcement(record)); // the first one twice: a redelivery
        }

        await DueAsync(host.Services, records.Take(3).ToList());
        var first = Assert.Single(await BatchesAsync(telegram, 1));
        Assert.StartsWith($"TeleGuard increments {records[0].Id} to {records[2].Id} · part 1/1", first.Caption);
        var batchId = await BatchOfAsync(host.Services, records[0].Id);
        Assert.Equal([batchId, batchId, batchId], await Task.WhenAll(records.Take(3).Select(r => BatchOfAsync(host.Services, r.Id))));

        // Redelivered after it was sent, then the next increment: the next period's message holds that one alone.
        await bus.Publish(Announcement(records[1]));
        await bus.Publish(Announcement(records[3]));
        await DueAsync(host.Services, [records[3]]);
        var both = await BatchesAsync(telegram, 2);
        Assert.Equal(2, both.Count);
        Assert.StartsWith($"TeleGuard increment {records[3].Id} · part 1/1", both[1].Caption);
        Assert.NotEqual(batchId, await BatchOfAsync(host.Services, records[3].Id));
        Assert.Equal(batchId, await BatchOfAsync(host.Services, records[1].Id));
    }

    [Fact]
    public async Task A_batch_whose_answer_never_came_is_continued_by_the_next_run_and_each_increment_stays_in_one_message()
    {
        var (host, telegram, _) = await StartAsync();
        var database = host.Services.GetRequiredService<IMongoDatabase>().DatabaseNamespace.DatabaseName;
        var start = new ClusterTimestamp(1_795_000_000, 1);
        var ends = Enumerable.Range(1, 3).Select(i => new ClusterTimestamp(start.T + (uint)(60 * i), 1)).ToArray();
        var records = await StoreAsync(host.Services, await RecordedHistory.WriteIncrementsAsync(Path.Combine(_work.Path, "written"), database, "20261126T000000Z", start, [], ends));
        var increments = host.Services.GetRequiredService<IncrementsStore>();
        foreach (var record in records)
        {
            Assert.True(await increments.MarkSinkDueAsync(record.Id, BackupSinks.Telegram, DateTime.UtcNow, CancellationToken.None));
        }

        // Telegram takes the batch but its answer never reaches the sender (it died): the intent is recorded, the message is not.
        var accepted = new SendHold(call: 1);
        telegram.HoldResponseOnSend = accepted;
        var batcher = host.Services.GetRequiredService<TelegramIncrementBatcher>();
        var dying = batcher.SendDueAsync(CancellationToken.None);
        await accepted.Arrived.Task.WaitAsync(TimeSpan.FromSeconds(60));
        var batch = (await host.Services.GetRequiredService<TelegramBatchStore>().ListSendingAsync(database, CancellationToken.None)).Single();
        Assert.NotNull(batch.Location?.Sending);

        // The next run continues that batch (same increments) instead of starting another.
        Assert.Equal(3, await batcher.SendDueAsync(CancellationToken.None));
        var sent = (await host.Services.GetRequiredService<TelegramBatchStore>().GetAsync(batch.Id, CancellationToken.None))!;
        Assert.Equal(TelegramIncrementBatch.Sent, sent.Status);
        Assert.Equal(records.Select(r => r.Id), sent.IncrementIds);
        var gap = Assert.Single(sent.Location!.Gaps);
        Assert.InRange(accepted.Accepted!.Id, gap.After + 1, gap.Before!.Value - 1); // where retention looks for it

        // The dead sender's answer arrives after all: it no longer owns the batch, records nothing and deletes its message.
        accepted.Release.TrySetResult();
        await Assert.ThrowsAsync<InvalidOperationException>(() => dying);
        Assert.Contains(accepted.Accepted.Id, telegram.Deleted);
        var message = Assert.Single(telegram.Messages, m => m.Caption.StartsWith("TeleGuard increment", StringComparison.Ordinal));
        Assert.Equal(sent.Location.MessageIds, [message.Id]);
        Assert.Equal(0, await batcher.SendDueAsync(CancellationToken.None));
        foreach (var record in records)
        {
            Assert.Equal(batch.Id, await BatchOfAsync(host.Services, record.Id));
        }
    }

    [Fact]
    public async Task An_increment_whose_artifact_is_gone_or_changed_is_recorded_failed_and_the_others_are_still_sent()
    {
        var (host, telegram, _) = await StartAsync();
        const string chain = "20261126T000000Z";
        var records = await StoreChainOfFourAsync(host.Services, chain);
        var bus = host.Services.GetRequiredService<IBus>();
        foreach (var record in records.Take(3))
        {
            await bus.Publish(Announcement(record));
        }

        await DueAsync(host.Services, records.Take(3).ToList());

        // Before the period's batch is made: the second increment's artifact is deleted, the third's changed on disk.
        await host.Services.GetRequiredService<IArtifactStore>().DeleteAsync(records[1].Artifact.Location, CancellationToken.None);
        var changed = Path.Combine(_work.Path, "artifacts", records[2].Artifact.Location[DirectoryArtifactStore.Scheme.Length..]);
        var bytes = await File.ReadAllBytesAsync(changed);
        bytes[^1] ^= 0xFF;
        await File.WriteAllBytesAsync(changed, bytes);

        var first = Assert.Single(await BatchesAsync(telegram, 1));
        Assert.StartsWith($"TeleGuard increment {records[0].Id} · part 1/1", first.Caption);
        Assert.Equal([first.Id], await SentAsMessagesAsync(host.Services, records[0].Id));
        var gone = await FailedAsync(host.Services, records[1].Id);
        Assert.Contains($"increment {records[1].Id}: its artifact {records[1].Artifact.Location} is gone from the artifact store", gone.Error);
        var altered = await FailedAsync(host.Services, records[2].Id);
        Assert.Contains($"increment {records[2].Id}: the artifact in the store is not the one recorded", altered.Error);
        var batch = (await host.Services.GetRequiredService<TelegramBatchStore>().GetAsync(await BatchOfAsync(host.Services, records[0].Id), CancellationToken.None))!;
        Assert.Equal([records[0].Id], batch.IncrementIds);

        // The next increment goes in the next period's batch.
        await bus.Publish(Announcement(records[3]));
        await DueAsync(host.Services, [records[3]]);
        var second = (await BatchesAsync(telegram, 2))[1];
        Assert.StartsWith($"TeleGuard increment {records[3].Id} · part 1/1", second.Caption);
        Assert.Equal([second.Id], await SentAsMessagesAsync(host.Services, records[3].Id));

        // The hole is a break in the channel's history: no restore to a time after it from the snapshot before it.
        var snapshots = host.Services.GetRequiredService<IMongoDatabase>().GetCollection<BackupRecord>(BackupsMetaStore.CollectionName);
        await snapshots.InsertOneAsync(new BackupRecord
        {
            Id = chain, Status = BackupStatus.Complete, CreatedAt = DateTime.UtcNow,
            Manifest = new ManifestSummary { FormatVersion = 2, Consistency = "snapshot", ClusterTime = records[0].From },
        });
        await snapshots.UpdateOneAsync(Builders<BackupRecord>.Filter.Eq(r => r.Id, chain),
            Builders<BackupRecord>.Update.Set($"sinks.{BackupSinks.Telegram}.status", SinkStatus.Succeeded)); // as the Telegram sink records its copy
        var refused = await Assert.ThrowsAsync<InvalidDataException>(() =>
            host.Services.GetRequiredService<TelegramDestination>().FetchToTimeAsync(ChangeEventLine.ToClusterTimestamp(records[3].To), Path.Combine(_work.Path, "restored"), CancellationToken.None));
        Assert.Contains($"increment {records[1].Id} is missing", refused.Message);
    }

    [Fact]
    public async Task A_batch_Telegram_keeps_refusing_is_tried_once_plus_RETRY_LIMIT_times_then_failed_and_the_next_increments_go_on()
    {
        var (host, telegram, _) = await StartAsync(); // RETRY_LIMIT=1: two tries
        var database = host.Services.GetRequiredService<IMongoDatabase>().DatabaseNamespace.DatabaseName;
        var start = new ClusterTimestamp(1_795_000_000, 1);
        var ends = Enumerable.Range(1, 2).Select(i => new ClusterTimestamp(start.T + (uint)(60 * i), 1)).ToArray();
        var records = await StoreAsync(host.Services, await RecordedHistory.WriteIncrementsAsync(Path.Combine(_work.Path, "written"), database, "20261126T000000Z", start, [], ends));
        var bus = host.Services.GetRequiredService<IBus>();

        // Flood control for an hour from the first upload on: more than the sender waits for, so each period's try fails.
        telegram.Flood("sendDocument", call: 1, retryAfterSeconds: 3600);
        await bus.Publish(Announcement(records[0]));
        await DueAsync(host.Services, [records[0]]);
        var failed = await FailedAsync(host.Services, records[0].Id);
        Assert.Contains("flood control asks to wait", failed.Error);
        var batch = (await host.Services.GetRequiredService<TelegramBatchStore>().GetAsync(TelegramIncrementBatch.IdFor(records[0].Id), CancellationToken.None))!;
        Assert.Equal((TelegramIncrementBatch.Failed, 2), (batch.Status, batch.FailedAttempts));
        Assert.Equal(2, telegram.Requests.Count(r => r.Status == 429));

        // Once Telegram takes uploads again, the next increment is sent.
        _time.Advance(TimeSpan.FromHours(1));
        await bus.Publish(Announcement(records[1]));
        await DueAsync(host.Services, [records[1]]);
        var message = Assert.Single(await BatchesAsync(telegram, 1));
        Assert.StartsWith($"TeleGuard increment {records[1].Id} · part 1/1", message.Caption);
        Assert.Equal([message.Id], await SentAsMessagesAsync(host.Services, records[1].Id));
    }

    // Moves the clock a period on until the increment is recorded failed in Telegram.
    private Task<SinkRecord> FailedAsync(IServiceProvider services, string incrementId) =>
        TestHosts.EventuallyAsync(async () =>
        {
            _time.Advance(TimeSpan.FromMinutes(1));
            var copy = (await services.GetRequiredService<IncrementsStore>().GetAsync(incrementId, CancellationToken.None))!.Sinks[BackupSinks.Telegram];
            return copy.Status == SinkStatus.Failed ? copy : null;
        }, TimeSpan.FromSeconds(60), $"increment {incrementId} to be recorded failed in Telegram");

    // The message ids recorded on the increment once its batch was sent.
    private static async Task<List<int>> SentAsMessagesAsync(IServiceProvider services, string incrementId)
    {
        await BatchOfAsync(services, incrementId);
        var copy = (await services.GetRequiredService<IncrementsStore>().GetAsync(incrementId, CancellationToken.None))!.Sinks[BackupSinks.Telegram];
        Assert.Equal(SinkStatus.Succeeded, copy.Status);
        return copy.LocationAs<TelegramIncrementLocation>()!.MessageIds;
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
}

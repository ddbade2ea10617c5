using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Storage.Tests;

/// <summary>
/// Sink results that wait in Redis while MongoDB is unreachable from one process (a proxy in front of MongoDB cuts it),
/// replayed once it answers again, against what other processes wrote meanwhile.
/// </summary>
public sealed class BackupsMetaFallbackTests : IAsyncDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private const string Id = "20261126T040000Z";

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 26, 4, 0, 0, TimeSpan.Zero));
    private readonly List<IAsyncDisposable> _disposables = [];
    private string _uri = "";
    private string _appName = "";
    private FaultProxy _proxy = null!;
    private RedisConnection _redis = null!;
    private BackupsMetaFallback _fallback = null!;

    /// <summary>The store of a process that reaches MongoDB through the proxy, with the Redis fallback.</summary>
    private BackupsMetaStore _cutOff = null!;

    /// <summary>A process that reaches MongoDB directly.</summary>
    private BackupsMetaStore _direct = null!;

    private async Task InitializeAsync()
    {
        _uri = await TestServices.MongoUriAsync();
        _proxy = FaultProxy.For(_uri);
        _disposables.Add(_proxy);
        _appName = TestServices.UniqueName("fallback");
        var throughProxy = _proxy.Through(_uri) + $"?directConnection=true&serverSelectionTimeoutMS=1000&connectTimeoutMS=1000&appName={_appName}";

        var redisOptions = OptionsCheck.Bind<RedisOptions, RedisOptionsValidator>(new Dictionary<string, string?>
        {
            ["REDIS_URL"] = await TestServices.RedisUrlAsync(),
            ["REDIS_KEY_PREFIX"] = TestServices.UniqueName("test"),
        }).Valid;
        _redis = new RedisConnection(Microsoft.Extensions.Options.Options.Create(redisOptions), NullLogger<RedisConnection>.Instance);
        _disposables.Add(_redis);
        _fallback = new BackupsMetaFallback(_redis);

        _cutOff = new BackupsMetaStore(Database(throughProxy), _time, [BackupSinks.GitHub], _fallback);
        _direct = new BackupsMetaStore(Database(_uri), _time, [BackupSinks.GitHub]);
        await _direct.RecordRequestedAsync(Id, _time.GetUtcNow(), "schedule", None);
    }

    private static IMongoDatabase Database(string uri) => new MongoClient(uri).GetDatabase(MongoUrl.Create(uri).DatabaseName);

    private async Task<string?> GitHubCommitAsync() => (await _direct.GetAsync(Id, None))!.Sinks[BackupSinks.GitHub].LocationAs<ExampleLocation>()!.Commit;

    [Fact]
    public async Task A_replayed_result_older_than_what_backups_meta_holds_is_dropped_and_the_newest_is_kept()
    {
        await InitializeAsync();
        _proxy.Cut();
        // 04:10 the sink copied the snapshot; MongoDB is unreachable from its process, so the result waits in Redis.
        _time.Advance(TimeSpan.FromMinutes(10));
        await _cutOff.RecordSinkOutcomeAsync(Id, BackupSinks.GitHub, SinkStatus.Succeeded, null, new ExampleLocation { Commit = "aaaa" }, None);
        Assert.Single(await _fallback.ListAsync(None));

        // 04:20 another process records newer facts directly: another instance's copy, then compaction moving it.
        _time.Advance(TimeSpan.FromMinutes(10));
        await _direct.RecordSinkOutcomeAsync(Id, BackupSinks.GitHub, SinkStatus.Succeeded, null, new ExampleLocation { Commit = "bbbb" }, None);
        _time.Advance(TimeSpan.FromMinutes(1));
        await _direct.UpdateSinkLocationAsync(Id, BackupSinks.GitHub, new ExampleLocation { Commit = "cccc" }, None);

        _proxy.Restore();
        Assert.True(await _cutOff.ReplayPendingAsync(None));

        Assert.Equal("cccc", await GitHubCommitAsync());
        Assert.Empty(await _fallback.ListAsync(None)); // proven obsolete, so removed
    }

    [Fact]
    public async Task Replayed_results_apply_in_the_order_they_happened_and_a_newer_one_is_never_undone_by_an_older_one()
    {
        await InitializeAsync();
        _proxy.Cut();
        _time.Advance(TimeSpan.FromMinutes(10));
        await _cutOff.UpdateSinkLocationAsync(Id, BackupSinks.GitHub, new ExampleLocation { Commit = "aaaa" }, None);
        _time.Advance(TimeSpan.FromMinutes(1));
        await _cutOff.RecordSinkOutcomeAsync(Id, BackupSinks.GitHub, SinkStatus.Succeeded, null, new ExampleLocation { Commit = "bbbb" }, None);
        Assert.Equal(2, (await _fallback.ListAsync(None)).Count);

        _proxy.Restore();
        Assert.True(await _cutOff.ReplayPendingAsync(None));
        var record = (await _direct.GetAsync(Id, None))!;
        Assert.Equal(SinkStatus.Succeeded, record.Sinks[BackupSinks.GitHub].Status);
        Assert.Equal("bbbb", record.Sinks[BackupSinks.GitHub].LocationAs<ExampleLocation>()!.Commit);

        // A second replayer that was slow applies the older entry again, after the newer one: nothing changes.
        var pendingEarlier = new PendingMetaWrite(PendingMetaWrite.SinkLocation, Id, BackupSinks.GitHub, _time.GetUtcNow().UtcDateTime.AddMinutes(-1), null, null,
            new ExampleLocation { Commit = "aaaa" }.ToBsonDocument());
        await _fallback.AppendAsync(pendingEarlier, None);
        var slowReplayer = new BackupsMetaStore(Database(_uri), _time, [BackupSinks.GitHub], _fallback);
        Assert.True(await slowReplayer.ReplayPendingAsync(None));
        Assert.Equal("bbbb", await GitHubCommitAsync());
    }

    [Fact]
    public async Task An_entry_stays_in_Redis_when_its_replay_fails_with_an_error_that_does_not_say_the_write_is_invalid()
    {
        await InitializeAsync();
        _proxy.Cut();
        _time.Advance(TimeSpan.FromMinutes(10));
        await _cutOff.RecordSinkOutcomeAsync(Id, BackupSinks.GitHub, SinkStatus.Succeeded, null, new ExampleLocation { Commit = "aaaa" }, None);
        _proxy.Restore();

        // A shard's replica set elects a new primary while the entry is replayed: mongos answers that it cannot find one.
        await using (await FailPoint.SetAsync(_uri, _appName, ["update", "findAndModify"], new BsonDocument("times", 50),
                         new BsonDocument { { "errorCode", 133 }, { "errorLabels", new BsonArray() } }))
        {
            var replayed = await _cutOff.ReplayPendingAsync(None);
            Assert.Single(await _fallback.ListAsync(None));
            Assert.False(replayed);
        }

        Assert.True(await _cutOff.ReplayPendingAsync(None));
        Assert.Empty(await _fallback.ListAsync(None));
        var record = (await _direct.GetAsync(Id, None))!;
        Assert.Equal(SinkStatus.Succeeded, record.Sinks[BackupSinks.GitHub].Status);
        Assert.Equal("aaaa", record.Sinks[BackupSinks.GitHub].LocationAs<ExampleLocation>()!.Commit);
    }

    [Fact]
    public async Task An_entry_that_can_never_apply_is_kept_aside_and_does_not_block_the_ones_behind_it()
    {
        await InitializeAsync();
        await _fallback.AppendAsync(new PendingMetaWrite("from-a-newer-version", Id, BackupSinks.GitHub, _time.GetUtcNow().UtcDateTime, null, null, null), None);
        await _fallback.AppendAsync(new PendingMetaWrite(PendingMetaWrite.SinkLocation, Id, BackupSinks.GitHub, _time.GetUtcNow().UtcDateTime, null, null,
            new ExampleLocation { Commit = "aaaa" }.ToBsonDocument()), None);

        Assert.True(await _cutOff.ReplayPendingAsync(None));

        Assert.Equal("aaaa", await GitHubCommitAsync());
        Assert.Empty(await _fallback.ListAsync(None));
        var refused = await (await _redis.GetDatabaseAsync(None)).ListRangeAsync(_fallback.RefusedKey);
        Assert.Contains("from-a-newer-version", Assert.Single(refused).ToString());
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var disposable in Enumerable.Reverse(_disposables))
        {
            await disposable.DisposeAsync();
        }
    }
}

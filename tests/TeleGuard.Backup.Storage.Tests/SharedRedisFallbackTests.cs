using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Storage.Tests;

/// <summary>
/// Two deployments (two databases backed up) sharing one Redis server and REDIS_KEY_PREFIX: every key is under the
/// identity of the database backed up as well (RedisOptions.KeyPrefix). Both take the same hourly
/// slot ids. A sink result of deployment A that waits in Redis while A's MongoDB is unreachable must end in A's
/// backups_meta, never in B's.
/// </summary>
public sealed class SharedRedisFallbackTests : IAsyncDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private const string Slot = "20261126T040000Z";
    private readonly List<IAsyncDisposable> _disposables = [];

    [Fact]
    public async Task A_result_deferred_by_one_deployment_is_never_replayed_into_another_deployments_backups_meta()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 4, 0, 0, TimeSpan.Zero));
        var prefix = TestServices.UniqueName("shared"); // one prefix for both deployments (the default is "teleguard" for everyone)
        var redisUrl = await TestServices.RedisUrlAsync();

        // Deployment A: its services reach MongoDB through a proxy that will be cut.
        var uriA = await TestServices.MongoUriAsync();
        var proxy = FaultProxy.For(uriA);
        _disposables.Add(proxy);
        var throughProxy = proxy.Through(uriA) + "?directConnection=true&serverSelectionTimeoutMS=1000&connectTimeoutMS=1000";
        var storeA = new BackupsMetaStore(Database(throughProxy), time, [BackupSinks.GitHub], new BackupsMetaFallback(Redis(redisUrl, prefix, throughProxy)));
        var directA = new BackupsMetaStore(Database(uriA), time, [BackupSinks.GitHub]);

        // Deployment B: another database, same Redis and prefix.
        var uriB = await TestServices.MongoUriAsync();
        var storeB = new BackupsMetaStore(Database(uriB), time, [BackupSinks.GitHub], new BackupsMetaFallback(Redis(redisUrl, prefix, uriB)));

        await directA.RecordRequestedAsync(Slot, time.GetUtcNow(), "schedule", None);
        await storeB.RecordRequestedAsync(Slot, time.GetUtcNow(), "schedule", None);

        // A's GitHub sink copied the 04:00 snapshot; A's MongoDB is unreachable, so the result waits in Redis.
        proxy.Cut();
        time.Advance(TimeSpan.FromMinutes(5));
        await storeA.RecordSinkOutcomeAsync(Slot, BackupSinks.GitHub, SinkStatus.Succeeded, null, new ExampleLocation { Commit = "commit-of-deployment-A" }, None);

        // B's replay service runs every 5 s (any read or write of B's store replays first).
        await storeB.ReplayPendingAsync(None);

        proxy.Restore();
        await storeA.ReplayPendingAsync(None);

        var recordB = (await storeB.GetAsync(Slot, None))!;
        var recordA = (await directA.GetAsync(Slot, None))!;
        Assert.False(recordB.Sinks.ContainsKey(BackupSinks.GitHub),
            $"deployment B's backups_meta took deployment A's result: {recordB.Sinks.GetValueOrDefault(BackupSinks.GitHub)?.ToBsonDocument()}");
        Assert.Equal(SinkStatus.Succeeded, recordA.Sinks.GetValueOrDefault(BackupSinks.GitHub)?.Status);
    }

    private static IMongoDatabase Database(string uri) => new MongoClient(uri).GetDatabase(MongoUrl.Create(uri).DatabaseName);

    // Each deployment's Redis settings as its services read them: the same REDIS_URL and prefix, its own MONGODB_URI.
    private RedisConnection Redis(string url, string prefix, string mongoUri)
    {
        var options = OptionsCheck.Bind<RedisOptions, RedisOptionsValidator>(new Dictionary<string, string?>
        {
            ["REDIS_URL"] = url,
            ["REDIS_KEY_PREFIX"] = prefix,
            ["MONGODB_URI"] = mongoUri,
        }).Valid;
        var connection = new RedisConnection(Microsoft.Extensions.Options.Options.Create(options), NullLogger<RedisConnection>.Instance);
        _disposables.Add(connection);
        return connection;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var disposable in Enumerable.Reverse(_disposables))
        {
            await disposable.DisposeAsync();
        }
    }
}

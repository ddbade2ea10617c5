using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.Cli;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Destinations.GitHub;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.GitHub.Tests;

/// <summary>
/// Force pushes (compaction, insertion below newer data) only under the Redis branch lock, and never over a commit the
/// pusher did not read. Instances of the snapshot service and the GitHub sink on a real RabbitMQ, against the replica-set
/// server and the git smart-HTTP server; one instance cannot reach Redis.
/// </summary>
public sealed class BranchLockTests : IAsyncDisposable
{
    private const string Unreachable = "redis://127.0.0.1:1"; // nothing listens there
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    private readonly TemporaryDirectory _work = new();
    private readonly GitServer _git = GitServer.FromEnvironment();
    private readonly CapturedLogs _logs = new();
    private readonly List<IHost> _started = [];
    private readonly List<IAsyncDisposable> _disposables = [];
    private Dictionary<string, string?> _settings = [];
    private IMongoDatabase _database = null!;
    private BackupsMetaStore _meta = null!;
    private Uri _repository = null!;
    private string _repositoryPath = "";

    private async Task SetUpAsync()
    {
        var uri = await TestServices.MongoReplicaSetUriAsync();
        _database = new MongoClient(uri).GetDatabase(MongoUrl.Create(uri).DatabaseName);
        _meta = new BackupsMetaStore(_database, TimeProvider.System);
        var vhost = await TestServices.RabbitMqVirtualHostAsync();
        _disposables.Add(vhost);
        (_repository, _repositoryPath) = _git.CreateRepository();
        _settings = new Dictionary<string, string?>
        {
            ["MONGODB_URI"] = uri,
            ["RABBITMQ_URI"] = vhost.AmqpUri,
            ["REDIS_URL"] = await TestServices.RedisUrlAsync(),
            ["REDIS_KEY_PREFIX"] = TestServices.UniqueName("test"),
            ["GITHUB_REPO"] = _repository.ToString(),
            ["GITHUB_TOKEN"] = _git.Token,
            ["RETRY_LIMIT"] = "1",
            ["RETRY_MIN_SECONDS"] = "0",
            ["RETRY_MAX_SECONDS"] = "1",
            ["LOG_LEVEL"] = "Debug",
        };
        await _database.GetCollection<BsonDocument>("users").InsertManyAsync(
            Enumerable.Range(0, 50).Select(i => new BsonDocument { { "_id", i }, { "name", $"user {i}" } }));
    }

    /// <summary>An instance: the snapshot service and the GitHub sink on the bus (other sinks disabled), or, without the bus, just its services.</summary>
    private async Task<IHost> StartInstanceAsync(string name, Dictionary<string, string?> overrides, bool bus)
    {
        var settings = new Dictionary<string, string?>(_settings) { ["SNAPSHOT_DIR"] = Path.Combine(_work.Path, name) };
        foreach (var (key, value) in overrides)
        {
            settings[key] = value;
        }

        var builder = TestHosts.CreateBuilder(settings);
        builder.AddBackupDefaults();
        builder.Logging.AddProvider(_logs);
        builder.AddAllBackupServices(includeScheduler: false);
        if (bus)
        {
            builder.AddBackupBus();
        }

        var host = builder.Build();
        if (bus)
        {
            await host.StartAsync();
            _started.Add(host);
        }

        return host;
    }

    private async Task<BackupRecord> SnapshotAsync(IHost host, string id)
    {
        await _database.GetCollection<BsonDocument>("users").UpdateOneAsync(new BsonDocument("_id", 1),
            new BsonDocument("$set", new BsonDocument("name", $"changed for {id}"))); // newer data, a later cluster time
        await host.Services.GetRequiredService<IBus>().Publish(new SnapshotRequested(id, DateTimeOffset.UtcNow, "manual"));
        var record = await TestHosts.EventuallyAsync(async () =>
            await _meta.GetAsync(id, CancellationToken.None) is { } r && BackupStatus.IsFinal(r.Status) ? r : null, Timeout, $"snapshot {id}");
        Assert.True(record.Sinks[BackupSinks.GitHub].Status == SinkStatus.Succeeded, record.ToBsonDocument().ToJson());
        return record;
    }

    private string ServerHead => GitServer.Run(_repositoryPath, "rev-parse", "backups").Trim();

    private string SnapshotIn(string commit) =>
        SnapshotManifest.Parse(GitServer.ReadBlob(_repositoryPath, commit, "snapshot/manifest.json")).SnapshotId;

    private bool OnBranch(string commit)
    {
        try
        {
            GitServer.Run(_repositoryPath, "merge-base", "--is-ancestor", commit, "backups");
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    [Fact]
    public async Task A_compaction_racing_a_fast_forward_push_from_an_instance_without_Redis_loses_no_copy_recorded_as_made()
    {
        await SetUpAsync();
        var proxy = FaultProxy.For(_repository.ToString());
        _disposables.Add(proxy);
        _settings["GITHUB_REPO"] = proxy.Through(_repository.ToString()); // both instances, one repository URL
        var withoutRedis = await StartInstanceAsync("no-redis", new() { ["REDIS_URL"] = Unreachable }, bus: true);
        var withLock = await StartInstanceAsync("cleanup", [], bus: false);
        await SnapshotAsync(withoutRedis, "20261126T010000Z");
        await SnapshotAsync(withoutRedis, "20261126T020000Z");

        // The compaction (lock held) fetches, builds its orphan of 02:00 and starts pushing; its push (only that one) waits on
        // the wire while the instance without Redis pushes 03:00 on top and records it as copied.
        var held = proxy.HoldNextRequestContaining("service=git-receive-pack");
        var compaction = withLock.Services.GetRequiredService<GitHubSnapshotPublisher>().CompactAsync(CancellationToken.None);
        await held.WaitAsync(Timeout);
        var raced = await SnapshotAsync(withoutRedis, "20261126T030000Z");
        proxy.ReleaseHeld();
        var orphan = await compaction.WaitAsync(Timeout);

        // Every copy backups_meta holds as made is on the branch, at the commit it names, holding that snapshot.
        var kept = await _meta.ListKeptSinkCopiesAsync(BackupSinks.GitHub, CancellationToken.None);
        Assert.Equal(["20261126T030000Z", "20261126T020000Z"], kept.Select(r => r.Id));
        foreach (var record in kept)
        {
            var commit = record.Sinks[BackupSinks.GitHub].LocationAs<GitHubLocation>()!.Commit!;
            Assert.True(OnBranch(commit), $"{record.Id} is recorded at {commit}, which is not on the branch");
            Assert.Equal(record.Id, SnapshotIn(commit));
        }

        Assert.Equal(raced.Id, SnapshotIn("backups")); // the head is still the newest data
        Assert.Equal(orphan, GitServer.Run(_repositoryPath, "rev-parse", "backups~1").Trim());
        Assert.Equal("2", GitServer.Run(_repositoryPath, "rev-list", "--count", "backups").Trim());
        Assert.NotNull((await _meta.GetAsync("20261126T010000Z", CancellationToken.None))!.Sinks[BackupSinks.GitHub].RemovedAt);
        Assert.Contains(_logs.Lines, l => l.Contains("the branch moved to", StringComparison.Ordinal)); // the lease caught the race
    }

    [Fact]
    public async Task Without_Redis_no_force_push_happens_compaction_is_postponed_and_status_says_so_and_older_data_waits_for_the_lock()
    {
        await SetUpAsync();
        var withoutRedis = await StartInstanceAsync("no-redis", new() { ["REDIS_URL"] = Unreachable }, bus: true);
        await SnapshotAsync(withoutRedis, "20261126T010000Z");
        await SnapshotAsync(withoutRedis, "20261126T020000Z");
        var head = ServerHead;

        await withoutRedis.Services.GetRequiredService<IBus>().Publish(new CleanupRequested("20261126T020500Z", DateTimeOffset.UtcNow, "manual"));
        var postponed = await TestHosts.EventuallyAsync(async () =>
            (await _meta.GetAsync("20261126T020000Z", CancellationToken.None))!.Sinks[BackupSinks.GitHub].Cleanup, Timeout, "the compaction to be recorded");
        Assert.Equal(CleanupRecord.Postponed, postponed.Status);
        Assert.Contains("Redis unavailable", postponed.Reason);
        Assert.Equal(head, ServerHead);
        Assert.Equal("2", GitServer.Run(_repositoryPath, "rev-list", "--count", "backups").Trim());

        var status = await CliProcess.RunAsync(new Dictionary<string, string?>(_settings) { ["REDIS_URL"] = Unreachable }, Timeout, "status");
        Assert.True(status.ExitCode == 0, status.Output);
        Assert.Contains("Last github cleanup: postponed at ", status.StandardOutput);
        Assert.Contains("compaction waits for the next cleanup", status.StandardOutput);

        // A late snapshot whose data is older than the head belongs below it: that rewrites the branch, so it waits for
        // the lock (retried, then failed visibly) and the branch stays as it was.
        await SyntheticSnapshots.AnnounceAsync(withoutRedis.Services, _work.Path, "20261126T003000Z", 10_000, dataTime: DateTimeOffset.UtcNow.AddHours(-1));
        var late = await TestHosts.EventuallyAsync(async () =>
            await _meta.GetAsync("20261126T003000Z", CancellationToken.None) is { } r && BackupStatus.IsFinal(r.Status) ? r : null, Timeout, "the late snapshot");
        Assert.Equal(SinkStatus.Failed, late.Sinks[BackupSinks.GitHub].Status);
        Assert.Contains("the branch lock is not held", late.Sinks[BackupSinks.GitHub].Error);
        Assert.Equal(head, ServerHead);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _started)
        {
            await host.StopAsync();
            host.Dispose();
        }

        foreach (var disposable in _disposables)
        {
            await disposable.DisposeAsync();
        }

        _work.Dispose();
    }
}

using System.Security.Cryptography;
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
/// The snapshot service and the GitHub sink in one host on a real RabbitMQ, against the replica-set server and the
/// git smart-HTTP server. What is on the git server is read with the git CLI from its bare repository.
/// </summary>
public sealed class GitHubSinkTests : IAsyncDisposable
{
    private readonly TemporaryDirectory _work = new();
    private readonly GitServer _git = GitServer.FromEnvironment();
    private readonly CapturedLogs _logs = new();
    private readonly List<IHost> _hosts = [];
    private RabbitMqVirtualHost? _vhost;

    private sealed record Pipeline(IHost Host, IMongoDatabase Database, BackupsMetaStore Meta, IBus Bus, string RepositoryPath);

    private async Task<Pipeline> StartAsync(Dictionary<string, string?>? overrides = null)
    {
        var uri = await TestServices.MongoReplicaSetUriAsync();
        var database = new MongoClient(uri).GetDatabase(MongoUrl.Create(uri).DatabaseName);
        _vhost = await TestServices.RabbitMqVirtualHostAsync();
        var (url, path) = _git.CreateRepository();
        var settings = new Dictionary<string, string?>
        {
            ["MONGODB_URI"] = uri,
            ["RABBITMQ_URI"] = _vhost.AmqpUri,
            ["REDIS_URL"] = await TestServices.RedisUrlAsync(),
            ["REDIS_KEY_PREFIX"] = TestServices.UniqueName("test"),
            ["SNAPSHOT_DIR"] = _work.Path,
            ["GITHUB_REPO"] = url.ToString(),
            ["GITHUB_TOKEN"] = _git.Token,
            ["RETRY_LIMIT"] = "1",
            ["RETRY_MIN_SECONDS"] = "0",
            ["RETRY_MAX_SECONDS"] = "1",
            ["LOG_LEVEL"] = "Trace",
        };
        foreach (var (key, value) in overrides ?? [])
        {
            settings[key] = value;
        }

        var builder = TestHosts.CreateBuilder(settings);
        builder.AddBackupDefaults();
        builder.Logging.AddProvider(_logs);
        builder.AddAllBackupServices(includeScheduler: false); // the other sinks are disabled here: they record skipped
        builder.AddBackupBus();
        var host = builder.Build();
        await host.StartAsync();
        _hosts.Add(host);
        return new Pipeline(host, database, host.Services.GetRequiredService<BackupsMetaStore>(), host.Services.GetRequiredService<IBus>(), path);
    }

    private static Task<BackupRecord> WaitForAsync(Pipeline pipeline, string id, Func<BackupRecord, bool> condition, string what) =>
        TestHosts.EventuallyAsync(async () => await pipeline.Meta.GetAsync(id, CancellationToken.None) is { } r && condition(r) ? r : null,
            TimeSpan.FromSeconds(90), what);

    private static async Task<BackupRecord> SnapshotAsync(Pipeline pipeline, string id)
    {
        await pipeline.Bus.Publish(new SnapshotRequested(id, DateTimeOffset.UtcNow, "schedule"));
        return await WaitForAsync(pipeline, id, r => BackupStatus.IsFinal(r.Status), $"snapshot {id} to finish");
    }

    private static List<string> ServerHistory(Pipeline pipeline) =>
        GitServer.Run(pipeline.RepositoryPath, "log", "--format=%H %(trailers:key=Snapshot-Id,valueonly,separator=)", "backups")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();

    /// <summary>Every file of the artifact, byte for byte, under snapshot/ in the given commit on the server.</summary>
    private static async Task AssertCommitHoldsArtifactAsync(Pipeline pipeline, BackupRecord record, string commit)
    {
        var store = pipeline.Host.Services.GetRequiredService<IArtifactStore>();
        await using var artifact = await store.OpenReadAsync(record.Artifact!.Location, CancellationToken.None);
        var files = 0;
        await SnapshotArchive.ReadAsync(artifact, async (_, file, data, ct) =>
        {
            using var bytes = new MemoryStream();
            await data.CopyToAsync(bytes, ct);
            Assert.Equal(bytes.ToArray(), GitServer.ReadBlob(pipeline.RepositoryPath, commit, $"snapshot/{file}"));
            files++;
        }, CancellationToken.None);
        Assert.True(files >= 3);
        var manifest = SnapshotManifest.Parse(GitServer.ReadBlob(pipeline.RepositoryPath, commit, "snapshot/manifest.json"));
        Assert.Equal(record.Id, manifest.SnapshotId);
    }

    [Fact]
    public async Task Three_snapshots_are_three_commits_holding_the_artifact_a_redelivery_adds_none_and_cleanup_leaves_one_orphan()
    {
        var pipeline = await StartAsync();
        var users = pipeline.Database.GetCollection<BsonDocument>("users");
        await users.InsertManyAsync(Enumerable.Range(0, 300).Select(i => new BsonDocument { { "_id", i }, { "name", $"user {i}" } }));
        await pipeline.Database.GetCollection<BsonDocument>("everything").InsertManyAsync(BsonTestData.EveryType(includeLargeDocument: false));

        var records = new List<BackupRecord>();
        foreach (var (id, hour) in new[] { ("20261126T010000Z", 1), ("20261126T020000Z", 2), ("20261126T030000Z", 3) })
        {
            await users.UpdateOneAsync(new BsonDocument("_id", hour), new BsonDocument("$set", new BsonDocument("name", $"changed at {hour}")));
            var record = await SnapshotAsync(pipeline, id);
            Assert.Equal(BackupStatus.Complete, record.Status);
            records.Add(record);
        }

        var history = ServerHistory(pipeline);
        Assert.Equal(["20261126T030000Z", "20261126T020000Z", "20261126T010000Z"], history.Select(h => h.Split(' ')[1]));
        for (var i = 0; i < 3; i++)
        {
            var github = records[i].Sinks[BackupSinks.GitHub];
            Assert.Equal(SinkStatus.Succeeded, github.Status);
            Assert.Equal(1, github.Attempts);
            var location = github.LocationAs<GitHubLocation>()!;
            Assert.Equal("backups", location.Branch);
            var commit = location.Commit!;
            Assert.Equal(history[2 - i].Split(' ')[0], commit);
            await AssertCommitHoldsArtifactAsync(pipeline, records[i], commit);
        }

        var message = GitServer.Run(pipeline.RepositoryPath, "log", "-1", "--format=%B", "backups");
        Assert.Contains("Snapshot 20261126T030000Z: 3 collections", message); // backups_meta, everything, users
        Assert.Contains("users: 300 documents", message);
        // Only the changed document differs between two hourly commits.
        var diff = GitServer.Run(pipeline.RepositoryPath, "diff", "--stat", "backups~1", "backups", "--", "snapshot/collections/users");
        Assert.Contains("1 file changed, 1 insertion(+), 1 deletion(-)", diff);
        Assert.DoesNotContain(_git.Token, _logs.All);

        // A redelivered SnapshotCreated makes no new commit and keeps the recorded one.
        var first = records[0];
        await pipeline.Bus.Publish(new SnapshotCreated(first.Id, DateTimeOffset.UtcNow, first.Artifact!.Location, first.Artifact.Size,
            first.Artifact.Sha256, first.Manifest!.Collections.Count, first.Manifest.Documents));
        await TestHosts.EventuallyAsync(() => Task.FromResult(_logs.All.Contains($"snapshot {first.Id} already copied") ? "seen" : null),
            TimeSpan.FromSeconds(30), "the redelivery to be handled");
        Assert.Equal(3, ServerHistory(pipeline).Count);
        var again = await pipeline.Meta.GetAsync(first.Id, CancellationToken.None);
        Assert.Equal(first.Sinks[BackupSinks.GitHub].LocationAs<GitHubLocation>()!.Commit, again!.Sinks[BackupSinks.GitHub].LocationAs<GitHubLocation>()!.Commit);
        Assert.Equal(1, again.Sinks[BackupSinks.GitHub].Attempts);

        // Cleanup: one commit without parents, holding the latest snapshot.
        await pipeline.Bus.Publish(new CleanupRequested("20261126T030500Z", DateTimeOffset.UtcNow, "schedule"));
        var latest = await WaitForAsync(pipeline, "20261126T030000Z",
            r => r.Sinks[BackupSinks.GitHub].LocationAs<GitHubLocation>()!.CompactedAt is not null, "the compaction to be recorded");
        var orphan = latest.Sinks[BackupSinks.GitHub].LocationAs<GitHubLocation>()!.Commit!;
        Assert.Equal(orphan, GitServer.Run(pipeline.RepositoryPath, "rev-parse", "backups").Trim());
        Assert.Equal("1", GitServer.Run(pipeline.RepositoryPath, "rev-list", "--count", "backups").Trim());
        Assert.Equal("", GitServer.Run(pipeline.RepositoryPath, "log", "-1", "--format=%P", "backups").Trim());
        await AssertCommitHoldsArtifactAsync(pipeline, latest, orphan);
        Assert.NotNull((await pipeline.Meta.GetAsync("20261126T010000Z", CancellationToken.None))!.Sinks[BackupSinks.GitHub].RemovedAt);
        Assert.Null(latest.Sinks[BackupSinks.GitHub].RemovedAt);
    }

    [Fact]
    public async Task A_collection_over_100_MiB_is_committed_in_parts_of_at_most_45_MiB_and_the_push_is_accepted()
    {
        var pipeline = await StartAsync(new() { ["ARTIFACT_STORE"] = "directory", ["ARTIFACT_DIR"] = Path.Combine(_work.Path, "artifacts") });
        const string id = "20261126T040000Z";

        // An artifact whose one part holds 110 MiB (as with SNAPSHOT_PART_SIZE_MB above 45): the sink must split it.
        await SyntheticSnapshots.AnnounceAsync(pipeline.Host.Services, _work.Path, id, 110L * 1024 * 1024);
        var record = await WaitForAsync(pipeline, id, r => BackupStatus.IsFinal(r.Status), "the big snapshot to be committed");
        Assert.True(record.Sinks[BackupSinks.GitHub].Status == SinkStatus.Succeeded, record.Sinks[BackupSinks.GitHub].Error);
        var sha256 = record.Manifest!.Collections.Single().Sha256;
        Assert.True(record.Manifest.Bytes > 100L * 1024 * 1024);

        var committed = SnapshotManifest.Parse(GitServer.ReadBlob(pipeline.RepositoryPath, "backups", "snapshot/manifest.json"));
        var big = committed.Collections.Single();
        Assert.True(big.Parts.Count >= 3, $"{big.Parts.Count} parts");
        using var whole = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var part in big.Parts)
        {
            var bytes = GitServer.ReadBlob(pipeline.RepositoryPath, "backups", $"snapshot/{part.File}");
            Assert.True(bytes.Length <= 45 * 1024 * 1024, $"{part.File} has {bytes.Length} bytes");
            Assert.Equal(part.Sha256, Convert.ToHexStringLower(SHA256.HashData(bytes)));
            whole.AppendData(bytes);
        }

        Assert.Equal(sha256, Convert.ToHexStringLower(whole.GetHashAndReset()));
        Assert.Equal(sha256, big.Sha256);
    }

    [Fact]
    public async Task A_wrong_token_fails_the_github_copy_clearly_without_the_token_in_any_log_line()
    {
        const string wrongToken = "ghs_CanaryWrongToken0123456789abcdefABCDEF";
        var pipeline = await StartAsync(new() { ["GITHUB_TOKEN"] = wrongToken });
        await pipeline.Database.GetCollection<BsonDocument>("users").InsertOneAsync(new BsonDocument("_id", 1));

        var record = await SnapshotAsync(pipeline, "20261126T050000Z");
        var github = record.Sinks[BackupSinks.GitHub];
        Assert.Equal(SinkStatus.Failed, github.Status);
        Assert.Contains("Authentication", github.Error);
        Assert.Equal(1, github.Attempts); // authentication failures are not retried
        Assert.Equal(BackupStatus.Failed, record.Status); // GitHub is the only destination so far
        Assert.NotNull(record.Artifact); // the snapshot itself is intact for the other destinations
        Assert.DoesNotContain(wrongToken, _logs.All);
        Assert.DoesNotContain(wrongToken, record.ToBsonDocument().ToJson());
        Assert.Contains(_logs.Lines, l => l.Contains("Authentication"));
    }

    [Fact]
    public async Task A_repository_that_does_not_exist_fails_at_once_naming_GITHUB_REPO_and_GITHUB_TOKEN()
    {
        var missing = new Uri($"{_git.BaseUrl}/missing-{Guid.NewGuid():N}.git");
        var pipeline = await StartAsync(new() { ["GITHUB_REPO"] = missing.ToString(), ["RETRY_LIMIT"] = "5" });
        await pipeline.Database.GetCollection<BsonDocument>("users").InsertOneAsync(new BsonDocument("_id", 1));

        var record = await SnapshotAsync(pipeline, "20261126T070000Z");
        var github = record.Sinks[BackupSinks.GitHub];
        Assert.Equal(SinkStatus.Failed, github.Status);
        Assert.Equal(1, github.Attempts); // not retried: a 404 does not go away by itself
        Assert.Contains("was not found (HTTP 404): check GITHUB_REPO", github.Error);
        Assert.Contains("GITHUB_TOKEN can see it", github.Error);
    }

    [Fact]
    public async Task A_token_without_write_access_fails_at_once_saying_so()
    {
        var (repository, _) = _git.CreateRepository();
        var (front, throughFront) = GitHubLikeFront.ReadOnlyTokenFor(repository);
        await using (front)
        {
            var readOnly = await StartAsync(new() { ["GITHUB_REPO"] = throughFront.ToString(), ["RETRY_LIMIT"] = "5" });
            await readOnly.Database.GetCollection<BsonDocument>("users").InsertOneAsync(new BsonDocument("_id", 1));

            var record = await SnapshotAsync(readOnly, "20261126T080000Z");
            var github = record.Sinks[BackupSinks.GitHub];
            Assert.Equal(SinkStatus.Failed, github.Status);
            Assert.Equal(1, github.Attempts);
            Assert.Contains("refused access (HTTP 403): the token in GITHUB_TOKEN lacks write access", github.Error);
            Assert.True(front.RefusedPushes >= 1); // the push reached the front and was refused there
        }
    }

    [Fact]
    public async Task Without_any_github_variable_the_sink_records_skipped_and_the_snapshot_completes()
    {
        var pipeline = await StartAsync(new() { ["GITHUB_REPO"] = null, ["GITHUB_TOKEN"] = null });
        await pipeline.Database.GetCollection<BsonDocument>("users").InsertOneAsync(new BsonDocument("_id", 1));
        var record = await SnapshotAsync(pipeline, "20261126T060000Z");
        Assert.Equal(SinkStatus.Skipped, record.Sinks[BackupSinks.GitHub].Status);
        Assert.Equal(BackupStatus.Complete, record.Status);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.StopAsync();
            host.Dispose();
        }

        if (_vhost is not null)
        {
            await _vhost.DisposeAsync();
        }

        _work.Dispose();
    }
}

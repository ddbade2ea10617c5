using System.Collections.Concurrent;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Snapshots;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Snapshot.Tests;

/// <summary>The snapshot service in a host on a real RabbitMQ (a virtual host of its own) against the replica-set server.</summary>
public sealed class SnapshotServiceTests : IAsyncDisposable
{
    private readonly TemporaryDirectory _workDirectory = new();
    private RabbitMqVirtualHost? _vhost;
    private IHost? _host;

    public sealed class SnapshotCreatedRecorder(ConcurrentQueue<SnapshotCreated> received) : IConsumer<SnapshotCreated>
    {
        public Task Consume(ConsumeContext<SnapshotCreated> context)
        {
            received.Enqueue(context.Message);
            return Task.CompletedTask;
        }
    }

    /// <summary>Counts SnapshotRequested messages whose consumer finished (successfully or not).</summary>
    public sealed class ConsumedRequests : IConsumeObserver
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public Task PreConsume<T>(ConsumeContext<T> context) where T : class => Task.CompletedTask;

        public Task PostConsume<T>(ConsumeContext<T> context) where T : class
        {
            if (context.Message is SnapshotRequested)
            {
                Interlocked.Increment(ref _count);
            }

            return Task.CompletedTask;
        }

        public Task ConsumeFault<T>(ConsumeContext<T> context, Exception exception) where T : class => Task.CompletedTask;
    }

    private readonly ConsumedRequests _consumed = new();

    private async Task<(IHost Host, SourceDatabase Source, ConcurrentQueue<SnapshotCreated> Created)> StartAsync(Dictionary<string, string?>? extra = null)
    {
        var source = await SourceDatabase.CreateAsync(replicaSet: true, users: 200);
        _vhost = await TestServices.RabbitMqVirtualHostAsync();
        var settings = new Dictionary<string, string?>
        {
            ["MONGODB_URI"] = source.Uri,
            ["RABBITMQ_URI"] = _vhost.AmqpUri,
            ["REDIS_URL"] = await TestServices.RedisUrlAsync(),
            ["REDIS_KEY_PREFIX"] = TestServices.UniqueName("test"),
            ["SNAPSHOT_DIR"] = _workDirectory.Path,
            ["RETRY_LIMIT"] = "1",
            ["RETRY_MIN_SECONDS"] = "0",
            ["RETRY_MAX_SECONDS"] = "1",
            ["LOG_LEVEL"] = "Warning",
        };
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }

        var created = new ConcurrentQueue<SnapshotCreated>();
        var builder = TestHosts.CreateBuilder(settings);
        builder.AddBackupDefaults();
        builder.AddSnapshotService();
        builder.Services.AddSingleton(created);
        builder.Services.AddConsumeObserver(_ => _consumed);
        builder.Services.AddBackupConsumers(x => x.AddConsumer<SnapshotCreatedRecorder>().Endpoint(e => e.Name = "test-snapshot-created"));
        builder.AddBackupBus();
        _host = builder.Build();
        await _host.StartAsync();
        return (_host, source, created);
    }

    [Fact]
    public async Task The_same_snapshot_requested_twice_yields_one_verified_artifact_and_one_announcement()
    {
        var (host, source, created) = await StartAsync();
        var bus = host.Services.GetRequiredService<IBus>();
        var meta = host.Services.GetRequiredService<BackupsMetaStore>();
        const string id = "20261126T040000Z";

        await bus.Publish(new SnapshotRequested(id, DateTimeOffset.UtcNow, "schedule"));
        await bus.Publish(new SnapshotRequested(id, DateTimeOffset.UtcNow, "catch-up"));
        var record = await TestHosts.EventuallyAsync(async () =>
        {
            var r = await meta.GetAsync(id, CancellationToken.None);
            return r is { Status: BackupStatus.Created } ? r : null; // no sink runs in this host: it stays created
        }, TimeSpan.FromSeconds(60), "the snapshot to be created");
        await TestHosts.EventuallyAsync(() => Task.FromResult(_consumed.Count == 2 ? "both" : null),
            TimeSpan.FromSeconds(30), "both requests to be consumed");
        await Task.Delay(1000); // a second announcement, if any, would have arrived by now

        var announcement = Assert.Single(created);
        Assert.Equal(record.Artifact!.Location, announcement.ArtifactLocation);
        Assert.Equal(record.Artifact.Sha256, announcement.ArtifactSha256);
        Assert.Equal("schedule", record.Reason);
        Assert.Equal(1, record.Export!.Attempts);
        Assert.Equal(SnapshotConsistency.Snapshot, record.Manifest!.Consistency);
        var artifacts = source.Client.GetDatabase(source.Database.DatabaseNamespace.DatabaseName + "_backup");
        Assert.Equal(1, await artifacts.GetCollection<BsonDocument>("teleguard_artifacts.files").CountDocumentsAsync(new BsonDocument("filename", $"snapshot-{id}.tar")));

        // The artifact in the store is complete and matches what was announced.
        var store = host.Services.GetRequiredService<IArtifactStore>();
        await using (var artifact = await store.OpenReadAsync(announcement.ArtifactLocation, CancellationToken.None))
        await using (var hashing = new HashingStream(artifact))
        {
            var manifest = await SnapshotArchive.ReadAsync(hashing, null, CancellationToken.None);
            await hashing.CopyToAsync(Stream.Null);
            Assert.Equal(announcement.ArtifactSha256, hashing.GetSha256());
            Assert.Equal(announcement.ArtifactSize, hashing.BytesHashed);
            Assert.Equal(200, manifest.Collections.Single(c => c.Name == "users").Documents);
            Assert.Equal(record.Manifest.Documents, manifest.TotalDocuments);
        }

        // A later snapshot does not contain the artifact store's own collections (snapshots do not nest).
        await bus.Publish(new SnapshotRequested("20261126T050000Z", DateTimeOffset.UtcNow, "schedule"));
        var second = await TestHosts.EventuallyAsync(async () =>
        {
            var r = await meta.GetAsync("20261126T050000Z", CancellationToken.None);
            return r is { Status: BackupStatus.Created } ? r : null;
        }, TimeSpan.FromSeconds(60), "the second snapshot");
        Assert.DoesNotContain(second.Manifest!.Collections, c => c.Name.StartsWith("teleguard_artifacts", StringComparison.Ordinal));
        Assert.Contains(second.Manifest.Collections, c => c.Name == BackupsMetaStore.CollectionName);
        // The export folder goes once the artifact is stored and announced (just after the record says created).
        await TestHosts.EventuallyAsync(() => Task.FromResult(
                Directory.Exists(Path.Combine(_workDirectory.Path, "exports")) && Directory.EnumerateDirectories(Path.Combine(_workDirectory.Path, "exports")).Any() ? null : "gone"),
            TimeSpan.FromSeconds(30), "export folders to be removed once the artifact is stored");
    }

    [Fact]
    public async Task By_default_artifacts_go_to_their_own_database_and_the_database_backed_up_holds_none()
    {
        var (host, source, created) = await StartAsync();
        const string id = "20261126T040000Z";
        await host.Services.GetRequiredService<IBus>().Publish(new SnapshotRequested(id, DateTimeOffset.UtcNow, "schedule"));
        var announcement = await TestHosts.EventuallyAsync(() => Task.FromResult(created.FirstOrDefault()), TimeSpan.FromSeconds(60), "the snapshot to be announced");

        var sourceCollections = await (await source.Database.ListCollectionNamesAsync()).ToListAsync();
        Assert.DoesNotContain(sourceCollections, c => c.StartsWith("teleguard_artifacts", StringComparison.Ordinal));
        var sourceName = source.Database.DatabaseNamespace.DatabaseName;
        Assert.StartsWith($"gridfs:{sourceName}_backup/teleguard_artifacts/", announcement.ArtifactLocation);
        var artifactCollections = await (await source.Client.GetDatabase($"{sourceName}_backup").ListCollectionNamesAsync()).ToListAsync();
        Assert.Contains("teleguard_artifacts.files", artifactCollections);
        Assert.Contains("teleguard_artifacts.chunks", artifactCollections);
    }

    [Fact]
    public async Task An_export_that_keeps_failing_is_recorded_as_failed_and_its_message_kept_in_the_error_queue()
    {
        var (host, _, created) = await StartAsync(new() { ["BACKUP_COLLECTIONS"] = "users,no_such_collection" });
        var bus = host.Services.GetRequiredService<IBus>();
        var meta = host.Services.GetRequiredService<BackupsMetaStore>();
        const string id = "20261126T040000Z";

        await bus.Publish(new SnapshotRequested(id, DateTimeOffset.UtcNow, "manual"));
        var record = await TestHosts.EventuallyAsync(async () =>
        {
            var r = await meta.GetAsync(id, CancellationToken.None);
            return r is { Status: BackupStatus.Failed } ? r : null;
        }, TimeSpan.FromSeconds(60), "the snapshot to fail");

        Assert.Contains("no_such_collection", record.Error);
        Assert.Null(record.Artifact);
        Assert.Equal(2, record.Export!.Attempts); // the first try and RETRY_LIMIT=1 retry
        Assert.Empty(created);
        await TestHosts.EventuallyAsync(async () => await _vhost!.CountMessagesAsync("teleguard-snapshot_error") == 1 ? "kept" : null,
            TimeSpan.FromSeconds(30), "the faulted message in teleguard-snapshot_error");
    }

    [Fact]
    public async Task A_request_with_an_invalid_snapshot_id_is_not_retried_and_lands_in_the_error_queue()
    {
        var (host, _, _) = await StartAsync(new() { ["RETRY_LIMIT"] = "5", ["RETRY_MIN_SECONDS"] = "5" });
        await host.Services.GetRequiredService<IBus>().Publish(new SnapshotRequested("../../etc", DateTimeOffset.UtcNow, "manual"));
        var started = DateTime.UtcNow;
        await TestHosts.EventuallyAsync(async () => await _vhost!.CountMessagesAsync("teleguard-snapshot_error") == 1 ? "kept" : null,
            TimeSpan.FromSeconds(30), "the faulted message in teleguard-snapshot_error");
        // Five retries from 5 s doubling would take more than two minutes; the management API lags up to 5 s.
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(20), "a permanent failure skips the retry backoff");
    }

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.StopAsync();
            _host.Dispose();
        }

        if (_vhost is not null)
        {
            await _vhost.DisposeAsync();
        }

        _workDirectory.Dispose();
    }
}

using System.Collections.Concurrent;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Export;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Snapshot.Tests;

/// <summary>The snapshot service in a host on a real RabbitMQ (a virtual host of its own) against the replica-set server.</summary>
[Collection(nameof(ServerFailPoint))]
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

    // What the hosts of a test consumed and published (every instance of the snapshot service shares them).
    private readonly ConsumedMessages _consumed = new();
    private readonly PublishedMessages _published = new();

    private async Task<(IHost Host, SourceDatabase Source, ConcurrentQueue<SnapshotCreated> Created)> StartAsync(
        Dictionary<string, string?>? extra = null, int users = 200, string? appName = null)
    {
        var source = await SourceDatabase.CreateAsync(replicaSet: true, users: users);
        _vhost = await TestServices.RabbitMqVirtualHostAsync();
        var settings = new Dictionary<string, string?>
        {
            ["MONGODB_URI"] = appName is null ? source.Uri : new MongoUrlBuilder(source.Uri) { ApplicationName = appName }.ToString(),
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
        builder.Services.AddPublishObserver(_ => _published);
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
        // Both requests were consumed, without a fault, and the export published one announcement (after recording the
        // snapshot, so it is awaited before counting what was published).
        var requests = await _consumed.WaitForAsync<SnapshotRequested>(2, TimeSpan.FromSeconds(30));
        Assert.All(requests, r => Assert.Null(r.Fault));
        var announcement = await AnnouncementAsync(created, 1);
        var published = Assert.Single(_published.Of<SnapshotCreated>());
        Assert.Equal(published, announcement);
        Assert.Equal(record.Artifact!.Location, announcement.ArtifactLocation);
        Assert.Equal(record.Artifact.Sha256, announcement.ArtifactSha256);
        Assert.Equal("schedule", record.Reason);
        Assert.Equal(1, record.Export!.Attempts);
        Assert.Equal(SnapshotConsistency.Snapshot, record.Manifest!.Consistency);
        Assert.Equal(1, await ArtifactFilesAsync(source, id));

        // The artifact in the store is complete, gzip-compressed (once, here, for every sink) and matches what was announced.
        var store = host.Services.GetRequiredService<IArtifactStore>();
        await using (var head = await store.OpenReadAsync(announcement.ArtifactLocation, CancellationToken.None))
        {
            var magic = new byte[2];
            await head.ReadExactlyAsync(magic);
            Assert.Equal([0x1f, 0x8b], magic);
        }

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
        await _consumed.WaitForAsync<SnapshotRequested>(3, TimeSpan.FromSeconds(30));
        // The export runner removes its folder right after recording and announcing (the request's delivery ended long
        // before): the folders are gone once the second announcement is out.
        await AnnouncementAsync(created, 2);
        var exports = Path.Combine(_workDirectory.Path, "exports");
        await TestHosts.EventuallyAsync(() => Task.FromResult(Directory.Exists(exports) && Directory.EnumerateDirectories(exports).Any() ? null : "removed"),
            TimeSpan.FromSeconds(10), "the export folders to be removed once the artifacts are stored");
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

    /// <summary>
    /// The request is acknowledged once accepted, so a failing export is retried from backups_meta by the export runner
    /// (not by redelivery) and, after RETRY_LIMIT retries, recorded as failed for good; its message is not kept.
    /// </summary>
    [Fact]
    public async Task An_export_that_keeps_failing_is_retried_from_backups_meta_and_recorded_as_failed_for_good()
    {
        var (host, _, created) = await StartAsync(new() { ["BACKUP_COLLECTIONS"] = "users,no_such_collection", ["SNAPSHOT_LEASE_SECONDS"] = "6" });
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
        // The delivery was accepted without a fault; nothing was announced.
        var request = Assert.Single(await _consumed.WaitForAsync<SnapshotRequested>(1, TimeSpan.FromSeconds(30)));
        Assert.Null(request.Fault);
        Assert.Empty(_published.Of<SnapshotCreated>());
        Assert.Empty(created);
    }

    /// <summary>
    /// An export longer than RabbitMQ's consumer_timeout (30 min) would lose its channel if it held its delivery. The
    /// export's second batch (getMore) is held by the fail point for 30 s, with a 6 s lease: the request's delivery is
    /// acknowledged (the broker counts the ack, nothing is left in the queue) while backups_meta shows the export under
    /// its lease, and the export then completes once, under the same lease renewed throughout.
    /// </summary>
    [Fact]
    public async Task A_long_export_has_its_request_acknowledged_once_tracked_in_backups_meta_and_completes_once()
    {
        var appName = TestServices.UniqueName("slowexp");
        var (host, source, created) = await StartAsync(new() { ["SNAPSHOT_LEASE_SECONDS"] = "6" }, users: 1500, appName: appName);
        var meta = host.Services.GetRequiredService<BackupsMetaStore>();
        var id = SnapshotIds.FromTime(DateTimeOffset.UtcNow);
        // users holds more documents than the export's first batch (1,000): reading the rest takes a getMore.
        await using var slow = await FailPoint.SetAsync(source.Uri, appName, ["getMore"], new BsonDocument("times", 1),
            new BsonDocument { { "blockConnection", true }, { "blockTimeMS", 30_000 } });

        await host.Services.GetRequiredService<IBus>().Publish(new SnapshotRequested(id, DateTimeOffset.UtcNow, "schedule"));
        var request = Assert.Single(await _consumed.WaitForAsync<SnapshotRequested>(1, TimeSpan.FromSeconds(20)));
        Assert.Null(request.Fault);
        var queue = await TestHosts.EventuallyAsync(async () =>
                await _vhost!.QueueStateAsync("teleguard-snapshot") is { Acknowledged: >= 1 } state ? $"{state.Messages} messages, {state.Unacknowledged} unacknowledged" : null,
            TimeSpan.FromSeconds(20), "the broker to count the request's acknowledgement");
        Assert.Equal("0 messages, 0 unacknowledged", queue);
        var during = (await meta.GetAsync(id, CancellationToken.None))!;
        Assert.Equal(BackupStatus.Exporting, during.Status); // still reading: acknowledged before the export ended
        Assert.True(during.Export!.LeaseUntil > DateTime.UtcNow, "the export is held under a live lease");
        Assert.Empty(_published.Of<SnapshotCreated>());

        var announced = await AnnouncementAsync(created, 1);
        var record = (await meta.GetAsync(id, CancellationToken.None))!;
        Assert.Equal(BackupStatus.Created, record.Status);
        Assert.Equal(1, record.Export!.Attempts); // the lease was renewed throughout: no second attempt
        Assert.Equal(announced.ArtifactLocation, record.Artifact!.Location);
        Assert.Equal(1500, record.Manifest!.Collections.Single(c => c.Name == "users").Documents);
        Assert.Equal(announced, Assert.Single(_published.Of<SnapshotCreated>()));
        Assert.Equal(1, await ArtifactFilesAsync(source, id));
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

    // Artifacts live in their own database (<db>_backup) by default.
    private static Task<long> ArtifactFilesAsync(SourceDatabase source, string id) =>
        source.Client.GetDatabase(source.Database.DatabaseNamespace.DatabaseName + "_backup")
            .GetCollection<BsonDocument>("teleguard_artifacts.files").CountDocumentsAsync(new BsonDocument("metadata.snapshotId", id));

    private static async Task<SnapshotCreated> AnnouncementAsync(ConcurrentQueue<SnapshotCreated> created, int count) =>
        await TestHosts.EventuallyAsync(() => Task.FromResult(created.Count >= count ? created.ElementAt(count - 1) : null),
            TimeSpan.FromSeconds(90), $"announcement {count}");

    [Fact]
    public async Task A_failed_snapshot_with_an_artifact_is_announced_again_and_never_exported_again()
    {
        var (host, source, created) = await StartAsync();
        var bus = host.Services.GetRequiredService<IBus>();
        var meta = host.Services.GetRequiredService<BackupsMetaStore>();
        var id = SnapshotIds.FromTime(DateTimeOffset.UtcNow);
        await bus.Publish(new SnapshotRequested(id, DateTimeOffset.UtcNow, "schedule"));
        var first = await AnnouncementAsync(created, 1);

        // Every destination failed: the snapshot is failed, with its artifact.
        foreach (var sink in BackupSinks.All)
        {
            await meta.RecordSinkOutcomeAsync(id, sink, SinkStatus.Failed, "destination down", null, CancellationToken.None);
        }

        Assert.Equal(BackupStatus.Failed, (await meta.GetAsync(id, CancellationToken.None))!.Status);

        await bus.Publish(new SnapshotRequested(id, DateTimeOffset.UtcNow, "catch-up"));
        var again = await AnnouncementAsync(created, 2);

        var record = (await meta.GetAsync(id, CancellationToken.None))!;
        Assert.Equal(first.ArtifactLocation, again.ArtifactLocation);
        Assert.Equal(first.ArtifactSha256, again.ArtifactSha256);
        Assert.Equal(first.ArtifactLocation, record.Artifact!.Location);
        Assert.Equal(1, record.Export!.Attempts); // not exported a second time
        Assert.Equal(BackupStatus.Created, record.Status); // back to created until the destinations' new outcomes
        Assert.Equal(1, await ArtifactFilesAsync(source, id));
    }

    [Fact]
    public async Task A_snapshot_whose_export_failed_for_good_is_not_exported_again_under_its_id()
    {
        var (host, source, created) = await StartAsync();
        var meta = host.Services.GetRequiredService<BackupsMetaStore>();
        var id = SnapshotIds.FromTime(DateTimeOffset.UtcNow.AddHours(-2)); // a slot from two hours ago
        await meta.RecordRequestedAsync(id, DateTimeOffset.UtcNow.AddHours(-2), "schedule", CancellationToken.None);
        await meta.TryClaimExportAsync(id, "earlier-exporter", TimeSpan.FromSeconds(30), CancellationToken.None);
        await meta.MarkExportFailedAsync(id, "earlier-exporter", "MongoDB was unreachable", finalAttempt: true, CancellationToken.None);

        // The slot is requested again (a catch-up, or its faulted message moved back from the error queue).
        await host.Services.GetRequiredService<IBus>().Publish(new SnapshotRequested(id, DateTimeOffset.UtcNow, "catch-up"));
        var request = Assert.Single(await _consumed.WaitForAsync<SnapshotRequested>(1, TimeSpan.FromSeconds(60)));
        Assert.Null(request.Fault); // handled: refused, not failed again

        var record = (await meta.GetAsync(id, CancellationToken.None))!;
        Assert.Equal(BackupStatus.Failed, record.Status);
        Assert.Equal("MongoDB was unreachable", record.Error);
        Assert.Null(record.Artifact);
        Assert.Equal(1, record.Export!.Attempts);
        Assert.Empty(_published.Of<SnapshotCreated>());
        Assert.Empty(created);
        Assert.Equal(0, await ArtifactFilesAsync(source, id));
    }

    /// <summary>
    /// Two instances in one process: instance A exports through a proxy that holds its read of one collection (a slow
    /// export) and, from then on, drops every renewal of its lease. A must stop at once; instance B, asked again, finds
    /// the export tracked and its runner takes the snapshot over once A's lease has expired, and
    /// whatever A does afterwards, the one artifact recorded and announced stays in the store, intact.
    /// </summary>
    [Fact]
    public async Task An_exporter_whose_lease_renewal_fails_stops_and_a_concurrent_redelivery_makes_the_one_artifact_that_stays()
    {
        var source = await SourceDatabase.CreateAsync(replicaSet: true, users: 200);
        var slowCollection = $"slow_{Guid.NewGuid():N}";
        await source.Database.GetCollection<BsonDocument>(slowCollection).InsertManyAsync(Enumerable.Range(0, 10).Select(i => new BsonDocument("_id", i)));
        _vhost = await TestServices.RabbitMqVirtualHostAsync();
        await using var proxy = FaultProxy.For(source.Uri);
        var throughProxy = new MongoUrlBuilder(proxy.Through(source.Uri))
        {
            DirectConnection = true, ReplicaSetName = null, ServerSelectionTimeout = TimeSpan.FromSeconds(2), ConnectTimeout = TimeSpan.FromSeconds(2),
        }.ToString();
        var settings = new Dictionary<string, string?>
        {
            ["MONGODB_URI"] = source.Uri,
            ["RABBITMQ_URI"] = _vhost.AmqpUri,
            ["REDIS_URL"] = await TestServices.RedisUrlAsync(),
            ["REDIS_KEY_PREFIX"] = TestServices.UniqueName("test"),
            ["SNAPSHOT_DIR"] = _workDirectory.Path,
            ["SNAPSHOT_LEASE_SECONDS"] = "6",
            ["RETRY_LIMIT"] = "60",
            ["RETRY_MIN_SECONDS"] = "1",
            ["RETRY_MAX_SECONDS"] = "1",
            ["LOG_LEVEL"] = "Warning",
        };
        var logsA = new CapturedLogs();
        var consumedA = new ConsumedMessages();
        var created = new ConcurrentQueue<SnapshotCreated>();

        proxy.HoldRequestsContaining(slowCollection);
        var instanceA = await StartInstanceAsync(new Dictionary<string, string?>(settings) { ["MONGODB_URI"] = throughProxy }, consumedA, logsA, created: null);
        var id = SnapshotIds.FromTime(DateTimeOffset.UtcNow);
        await instanceA.Services.GetRequiredService<IBus>().Publish(new SnapshotRequested(id, DateTimeOffset.UtcNow, "schedule"));
        await TestHosts.EventuallyAsync(() => Task.FromResult(proxy.HeldRequests > 0 ? "held" : null), TimeSpan.FromSeconds(60), "A's export to read the slow collection");
        var meta = new BackupsMetaStore(source.Database, TimeProvider.System);
        Assert.Equal(BackupStatus.Exporting, (await meta.GetAsync(id, CancellationToken.None))!.Status);

        proxy.ResetRequestsContaining("leaseUntil"); // A's renewals (and every other write of its lease) fail from now on
        using var workB = new TemporaryDirectory();
        var instanceB = await StartInstanceAsync(new Dictionary<string, string?>(settings) { ["SNAPSHOT_DIR"] = workB.Path }, new ConsumedMessages(), new CapturedLogs(), created);
        await instanceB.Services.GetRequiredService<IBus>().Publish(new SnapshotRequested(id, DateTimeOffset.UtcNow, "catch-up"));

        var announced = await AnnouncementAsync(created, 1);
        proxy.ResetRequestsContaining(null);
        proxy.ReleaseHeld(); // whatever A still has in flight goes on now
        await consumedA.WaitForAsync<SnapshotRequested>(1, TimeSpan.FromSeconds(90));

        // A's delivery is over and B's announcement arrived: it is the only one either instance published.
        var record = (await meta.GetAsync(id, CancellationToken.None))!;
        Assert.Equal(announced.ArtifactLocation, record.Artifact!.Location);
        Assert.Equal(announced, Assert.Single(_published.Of<SnapshotCreated>()));
        Assert.Single(created);
        Assert.Equal(1, await ArtifactFilesAsync(source, id));
        var store = instanceB.Services.GetRequiredService<IArtifactStore>();
        await using (var artifact = await store.OpenReadAsync(announced.ArtifactLocation, CancellationToken.None))
        await using (var hashing = new HashingStream(artifact))
        {
            await hashing.CopyToAsync(Stream.Null);
            Assert.Equal(announced.ArtifactSha256, hashing.GetSha256());
        }

        Assert.Contains("the export lease could not be renewed", logsA.All); // A stopped at once, not when its read came back
    }

    /// <summary>
    /// kill -9 of the snapshot service mid-export, with the default settings (SNAPSHOT_LEASE_SECONDS=60, RETRY_LIMIT=5,
    /// RETRY_MIN_SECONDS=1, RETRY_MAX_SECONDS=60), and the request asked again while the dead exporter's lease still runs
    /// for up to a minute: the snapshot must be exported (by the export runner's sweep) once that lease has expired.
    /// </summary>
    [Fact]
    public async Task A_request_redelivered_after_its_exporter_was_killed_exports_the_snapshot_with_the_default_settings()
    {
        var (host, _, created) = await StartAsync(new()
        {
            ["RETRY_LIMIT"] = null, ["RETRY_MIN_SECONDS"] = null, ["RETRY_MAX_SECONDS"] = null, ["SNAPSHOT_LEASE_SECONDS"] = null,
        });
        var meta = host.Services.GetRequiredService<BackupsMetaStore>();
        var id = SnapshotIds.FromTime(DateTimeOffset.UtcNow);

        // What the killed process left: the snapshot exporting under its lease, renewed just before the kill.
        await meta.RecordRequestedAsync(id, DateTimeOffset.UtcNow, "schedule", CancellationToken.None);
        Assert.Equal(ExportClaim.Acquired, (await meta.TryClaimExportAsync(id, "host/4242/killed-attempt", TimeSpan.FromSeconds(60), CancellationToken.None)).Claim);

        // The redelivery of its request.
        await host.Services.GetRequiredService<IBus>().Publish(new SnapshotRequested(id, DateTimeOffset.UtcNow, "schedule"));
        var outcome = await TestHosts.EventuallyAsync(async () =>
                (await meta.GetAsync(id, CancellationToken.None))?.Status == BackupStatus.Created ? "created"
                : await _vhost!.CountMessagesAsync("teleguard-snapshot_error") > 0 ? "the request gave up and went to teleguard-snapshot_error" : null,
            TimeSpan.FromSeconds(150), "the redelivered request to export the snapshot or give up");

        Assert.True(outcome == "created", $"{outcome}; the record is left {(await meta.GetAsync(id, CancellationToken.None))!.Status}");
        // The record says created before the announcement is published: wait for it, then it must be the only one.
        var announced = await AnnouncementAsync(created, 1);
        Assert.Equal(id, Assert.Single(created).SnapshotId);
        Assert.Equal(announced.ArtifactLocation, (await meta.GetAsync(id, CancellationToken.None))!.Artifact!.Location);
    }

    /// <summary>
    /// The service's snapshot read answers SnapshotTooOld (the fail point, once, for the service's client alone): the
    /// export still completes in its first attempt, and both the archive's manifest and backups_meta say consistency
    /// none, with the reason.
    /// </summary>
    [Fact]
    public async Task A_snapshot_read_that_gets_SnapshotTooOld_still_creates_the_snapshot_once_recorded_as_consistency_none()
    {
        var appName = TestServices.UniqueName("tooold");
        var (host, source, created) = await StartAsync(users: 1500, appName: appName);
        var meta = host.Services.GetRequiredService<BackupsMetaStore>();
        var id = SnapshotIds.FromTime(DateTimeOffset.UtcNow);
        await using var tooOld = await FailPoint.SetAsync(source.Uri, appName, ["getMore"], new BsonDocument("times", 1), new BsonDocument("errorCode", 239));

        await host.Services.GetRequiredService<IBus>().Publish(new SnapshotRequested(id, DateTimeOffset.UtcNow, "schedule"));
        var announced = await AnnouncementAsync(created, 1);

        var record = (await meta.GetAsync(id, CancellationToken.None))!;
        Assert.Equal(1, record.Export!.Attempts);
        Assert.Equal(SnapshotConsistency.None, record.Manifest!.Consistency);
        Assert.Contains("SnapshotTooOld while reading users", record.Manifest.ConsistencyReason);
        Assert.Null(record.Manifest.ClusterTime);
        await using var artifact = await host.Services.GetRequiredService<IArtifactStore>().OpenReadAsync(announced.ArtifactLocation, CancellationToken.None);
        var manifest = await SnapshotArchive.ReadAsync(artifact, null, CancellationToken.None);
        Assert.Equal(SnapshotConsistency.None, manifest.Consistency.Mode);
        Assert.Equal(record.Manifest.ConsistencyReason, manifest.Consistency.Reason);
        Assert.Equal(1500, manifest.Collections.Single(c => c.Name == "users").Documents);
        Assert.Equal(1, await ArtifactFilesAsync(source, id));
    }

    /// <summary>
    /// The exporter recorded the snapshot and died before publishing SnapshotCreated. Its request was acknowledged long
    /// ago, so nothing is redelivered: the export runner announces it, once, a lease after it was recorded.
    /// </summary>
    [Fact]
    public async Task A_snapshot_recorded_by_an_exporter_that_died_before_announcing_it_is_announced_once_by_the_runner()
    {
        var (host, _, created) = await StartAsync(new() { ["SNAPSHOT_LEASE_SECONDS"] = "6" });
        var meta = host.Services.GetRequiredService<BackupsMetaStore>();
        var id = SnapshotIds.FromTime(DateTimeOffset.UtcNow);
        var stored = await host.Services.GetRequiredService<IArtifactStore>().SaveAsync(id, (s, ct) => s.WriteAsync(new byte[] { 1, 2, 3 }, ct).AsTask(), CancellationToken.None);
        var artifact = new ArtifactRecord { Location = stored.Location, Size = stored.Size, Sha256 = stored.Sha256 };
        var manifest = new SnapshotManifest
        {
            SnapshotId = id, StartedAt = DateTimeOffset.UtcNow, FinishedAt = DateTimeOffset.UtcNow,
            Source = new SnapshotSource("db", ["h:1"], "rs0"), Consistency = new SnapshotConsistency(SnapshotConsistency.None, null), Collections = [],
        };
        // What the dead exporter left: accepted, claimed, recorded; never announced.
        await meta.RecordRequestedAsync(id, DateTimeOffset.UtcNow, "schedule", CancellationToken.None);
        Assert.True(await meta.MarkExportQueuedAsync(id, CancellationToken.None));
        Assert.Equal(ExportClaim.Acquired, (await meta.TryClaimExportAsync(id, "host/4242/died-after-recording", TimeSpan.FromSeconds(6), CancellationToken.None)).Claim);
        Assert.True(await meta.MarkCreatedAsync(id, "host/4242/died-after-recording", artifact, manifest, CancellationToken.None));

        var announced = await AnnouncementAsync(created, 1);
        Assert.Equal(id, announced.SnapshotId);
        Assert.Equal(stored.Location, announced.ArtifactLocation);
        var record = (await meta.GetAsync(id, CancellationToken.None))!;
        Assert.NotNull(record.AnnouncedAt);
        Assert.Equal(1, record.Export!.Attempts); // announced, not exported again
        Assert.Equal(announced, Assert.Single(_published.Of<SnapshotCreated>()));
    }

    /// <summary>
    /// ARTIFACT_DATABASE was changed (or the artifact directory given up): records written before name artifacts where the
    /// store no longer looks. Artifact retention must still remove the expired artifacts it can reach.
    /// </summary>
    [Fact]
    public async Task Artifact_retention_goes_on_past_a_record_whose_artifact_is_in_a_store_of_an_earlier_configuration()
    {
        var (host, _, _) = await StartAsync();
        var records = host.Services.GetRequiredService<IMongoDatabase>().GetCollection<BackupRecord>(BackupsMetaStore.CollectionName);
        var store = host.Services.GetRequiredService<IArtifactStore>();
        const string earlierConfiguration = "20260101T000000Z", expired = "20260101T010000Z", latest = "20260101T020000Z";
        var expiredArtifact = await store.SaveAsync(expired, (s, ct) => s.WriteAsync(new byte[] { 1, 2, 3 }, ct).AsTask(), CancellationToken.None);
        var latestArtifact = await store.SaveAsync(latest, (s, ct) => s.WriteAsync(new byte[] { 4, 5, 6 }, ct).AsTask(), CancellationToken.None);
        await records.InsertManyAsync(
        [
            Complete(earlierConfiguration, $"gridfs:teleguard_old_artifacts/teleguard_artifacts/{ObjectId.GenerateNewId()}"),
            Complete(expired, expiredArtifact.Location),
            Complete(latest, latestArtifact.Location),
        ]);

        var thrown = await Record.ExceptionAsync(() => host.Services.GetRequiredService<ArtifactRetention>().ApplyAsync(CancellationToken.None));

        Assert.Null(thrown);
        await Assert.ThrowsAsync<ArtifactNotFoundException>(() => store.OpenReadAsync(expiredArtifact.Location, CancellationToken.None));

        static BackupRecord Complete(string id, string location) => new()
        {
            Id = id, Status = BackupStatus.Complete, Artifact = new ArtifactRecord { Location = location, Size = 3, Sha256 = "00" },
        };
    }

    private async Task<IHost> StartInstanceAsync(Dictionary<string, string?> settings, ConsumedMessages consumed, CapturedLogs logs,
        ConcurrentQueue<SnapshotCreated>? created)
    {
        var builder = TestHosts.CreateBuilder(settings);
        builder.AddBackupDefaults();
        builder.Logging.AddProvider(logs);
        builder.AddSnapshotService();
        builder.Services.AddConsumeObserver(_ => consumed);
        builder.Services.AddPublishObserver(_ => _published);
        if (created is not null)
        {
            builder.Services.AddSingleton(created);
            builder.Services.AddBackupConsumers(x => x.AddConsumer<SnapshotCreatedRecorder>().Endpoint(e => e.Name = "test-snapshot-created"));
        }

        builder.AddBackupBus();
        var host = builder.Build();
        await host.StartAsync();
        _hosts.Add(host);
        return host;
    }

    private readonly List<IHost> _hosts = [];

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.StopAsync(TimeSpan.FromSeconds(10));
            host.Dispose();
        }

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

using System.Text.RegularExpressions;
using MongoDB.Bson;
using MongoDB.Bson.Serialization;
using MongoDB.Driver;
using MongoDB.Driver.GridFS;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Cli.Tests;

/// <summary>
/// The product run as an operator runs it: <c>teleguard-backup run</c> as a process, <c>teleguard-backup snapshot
/// --wait</c> as another, and the result checked in MongoDB with the driver.
/// </summary>
public sealed partial class SnapshotCommandTests : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);
    private readonly TemporaryDirectory _workDirectory = new();
    private RabbitMqVirtualHost? _vhost;

    private async Task<(Dictionary<string, string?> Environment, IMongoDatabase Database)> PrepareAsync(bool replicaSet, bool rabbit, int users = 100)
    {
        var uri = replicaSet ? await TestServices.MongoReplicaSetUriAsync() : await TestServices.MongoUriAsync();
        var database = new MongoClient(uri).GetDatabase(MongoUrl.Create(uri).DatabaseName);
        await database.GetCollection<BsonDocument>("everything").InsertManyAsync(BsonTestData.EveryType());
        if (users > 0)
        {
            await database.GetCollection<BsonDocument>("users").InsertManyAsync(Enumerable.Range(0, users)
                .Select(i => new BsonDocument { { "_id", i }, { "name", $"user {i}" }, { "pad", new string('p', 200) } }));
        }

        var environment = new Dictionary<string, string?>
        {
            ["MONGODB_URI"] = uri,
            ["REDIS_URL"] = await TestServices.RedisUrlAsync(),
            ["REDIS_KEY_PREFIX"] = TestServices.UniqueName("test"),
            ["SNAPSHOT_DIR"] = _workDirectory.Path,
            ["LOG_FORMAT"] = "text",
            ["ASPNETCORE_URLS"] = "http://127.0.0.1:0",
            // No scheduled or catch-up requests during the test: only the snapshots it asks for.
            ["BACKUP_SCHEDULE"] = "0 0 1 1 *",
            ["SCHEDULER_CATCH_UP"] = "false",
        };
        if (rabbit)
        {
            _vhost = await TestServices.RabbitMqVirtualHostAsync();
            environment["RABBITMQ_URI"] = _vhost.AmqpUri;
        }

        return (environment, database);
    }

    private static string SnapshotIdIn(string output) => SnapshotIdPattern().Match(output).Groups[1].Value;

    [GeneratedRegex(@"Requested snapshot (\d{8}T\d{6}Z)")]
    private static partial Regex SnapshotIdPattern();

    [GeneratedRegex(@"Now listening on: (http://127\.0\.0\.1:\d+)")]
    private static partial Regex ListeningPattern();

    // Where artifacts go by default: a database of their own next to the one backed up.
    private static IMongoDatabase ArtifactDatabase(IMongoDatabase backedUp) => backedUp.Client.GetDatabase(backedUp.DatabaseNamespace.DatabaseName + "_backup");

    /// <summary>Reads the recorded artifact and checks it against the source database with the driver.</summary>
    private static async Task<SnapshotManifest> AssertArtifactMatchesSourceAsync(IMongoDatabase database, BackupRecord record)
    {
        var location = record.Artifact!.Location;
        Assert.StartsWith($"gridfs:{ArtifactDatabase(database).DatabaseNamespace.DatabaseName}/teleguard_artifacts/", location);
        var bucket = new GridFSBucket(ArtifactDatabase(database), new GridFSBucketOptions { BucketName = "teleguard_artifacts" });
        await using var artifact = await bucket.OpenDownloadStreamAsync(ObjectId.Parse(location.Split('/')[^1]));
        var lines = new Dictionary<string, List<string>>();
        var manifest = await SnapshotArchive.ReadAsync(artifact, async (m, file, data, ct) =>
        {
            if (file.EndsWith(".jsonl", StringComparison.Ordinal))
            {
                var collection = m.Collections.Single(c => c.Parts.Any(p => p.File == file)).Name;
                using var reader = new StreamReader(data);
                var list = lines.TryGetValue(collection, out var existing) ? existing : lines[collection] = [];
                while (await reader.ReadLineAsync(ct) is { } line)
                {
                    list.Add(line);
                }
            }
        }, CancellationToken.None);

        Assert.Equal(record.Manifest!.Documents, manifest.TotalDocuments);
        foreach (var collection in manifest.Collections.Where(c => c.Name != BackupsMetaStore.CollectionName))
        {
            var source = await database.GetCollection<RawBsonDocument>(collection.Name).Find(FilterDefinition<RawBsonDocument>.Empty)
                .Sort(new BsonDocument("_id", 1)).ToListAsync();
            Assert.Equal(source.Count, collection.Documents);
            Assert.Equal(source.Count, record.Manifest.Collections.Single(c => c.Name == collection.Name).Documents);
            var exported = lines.GetValueOrDefault(collection.Name) ?? [];
            Assert.Equal(source.Count, exported.Count);
            for (var i = 0; i < source.Count; i++)
            {
                Assert.Equal(BsonTestData.Bytes(source[i]), new CanonicalJsonReader().Decode(System.Text.Encoding.UTF8.GetBytes(exported[i])).ToArray());
            }
        }

        return manifest;
    }

    private static async Task<BackupRecord> RecordAsync(IMongoDatabase database, string id) =>
        BsonSerializer.Deserialize<BackupRecord>(await database.GetCollection<BsonDocument>(BackupsMetaStore.CollectionName)
            .Find(new BsonDocument("_id", id)).SingleAsync());

    [Fact]
    public async Task Run_on_rabbitmq_then_snapshot_wait_records_a_complete_snapshot_whose_artifact_equals_the_source()
    {
        var (environment, database) = await PrepareAsync(replicaSet: true, rabbit: true);
        using var service = CliProcess.Start(environment, "run");
        var health = await TestHosts.EventuallyAsync(() => Task.FromResult(ListeningPattern().Match(service.Output) is { Success: true } m ? m.Groups[1].Value : null),
            TimeSpan.FromSeconds(60), "teleguard-backup run to listen");
        using (var http = new HttpClient { BaseAddress = new Uri(health) })
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, (await http.GetAsync("/health/live")).StatusCode);
            var ready = await TestHosts.EventuallyAsync(async () =>
            {
                var response = await http.GetAsync("/health/ready");
                return response.IsSuccessStatusCode ? await response.Content.ReadAsStringAsync() : null;
            }, TimeSpan.FromSeconds(30), "/health/ready");
            Assert.Equal("Healthy", ready);
        }

        var before = await ClusterTimes.NowAsync(database.Client);
        var (exitCode, output) = await CliProcess.RunAsync(environment, Timeout, "snapshot", "--wait", "--timeout", "120");
        var after = await ClusterTimes.NowAsync(database.Client);
        Assert.True(exitCode == 0, output + "\n--- run ---\n" + service.Output);
        Assert.Contains(": complete", output);
        Assert.Contains("consistency snapshot", output);

        var record = await RecordAsync(database, SnapshotIdIn(output));
        Assert.Equal(BackupStatus.Complete, record.Status);
        Assert.Equal("manual", record.Reason);
        Assert.Equal("snapshot", record.Manifest!.Consistency);
        Assert.InRange(record.Manifest.ClusterTime!.Value, before, after); // the snapshot's time is within the request
        await AssertArtifactMatchesSourceAsync(database, record);

        // The metrics endpoint of the running service counts what just happened.
        using (var http = new HttpClient { BaseAddress = new Uri(health) })
        {
            var metrics = await TestHosts.EventuallyAsync(async () =>
            {
                var text = await http.GetStringAsync("/metrics");
                return Regex.IsMatch(text, @"(?m)^teleguard_snapshot_last_complete_age_seconds(\{[^}]*\})? ") ? text : null;
            }, TimeSpan.FromSeconds(40), "the metrics to show the complete snapshot");
            Assert.Matches(@"(?m)^teleguard_snapshots_created_total(\{[^}]*\})? 1(\s|$)", metrics);
            Assert.Matches(@"(?m)^teleguard_snapshot_export_duration_seconds_count(\{[^}]*\})? 1(\s|$)", metrics);
            Assert.Matches($@"(?m)^teleguard_snapshot_artifact_bytes(_bytes)?_total(\{{[^}}]*\}})? {record.Artifact!.Size}(\s|$)", metrics);
            foreach (var sink in new[] { "github", "public", "telegram" })
            {
                Assert.Matches($@"(?m)^teleguard_sink_outcomes_total\{{(?=[^}}]*destination=""{sink}"")(?=[^}}]*status=""skipped"")[^}}]*\}} 1(\s|$)", metrics);
            }

            // The service names itself, and MassTransit's and the runtime's meters are exported beside TeleGuard's.
            Assert.Matches(@"(?m)^target_info\{(?=[^}]*service_name=""teleguard-backup"")(?=[^}]*service_version=""\d+\.\d+)", metrics);
            Assert.Matches(@"(?m)^messaging_masstransit_consume_ea_total\{(?=[^}]*messaging_masstransit_message_type=""SnapshotRequested"")[^}]*\} [1-9]", metrics);
            Assert.Matches(@"(?m)^dotnet_gc_collections_total\{", metrics);
        }

        var status = await CliProcess.RunAsync(environment, Timeout, "status", "--json");
        Assert.Equal(0, status.ExitCode);
        var json = BsonDocument.Parse(status.StandardOutput);
        Assert.Equal(record.Id, json["lastComplete"].AsString);
        Assert.Contains(json["snapshots"].AsBsonArray, s => s["id"] == record.Id && s["status"] == "complete");
    }

    [Fact]
    public async Task Without_rabbitmq_snapshot_runs_the_pipeline_in_process_and_a_standalone_server_has_no_consistency_and_no_other_export_is_taken()
    {
        var (environment, database) = await PrepareAsync(replicaSet: false, rabbit: false);
        // An older export accepted by a service and waiting for its runner: the one-shot command exits when its own snapshot
        // is done, so it must leave this one to the service (taking it, it would export it first, oldest first).
        var meta = new BackupsMetaStore(database, TimeProvider.System);
        const string pending = "20200101T000000Z";
        await meta.RecordRequestedAsync(pending, DateTimeOffset.UtcNow, "schedule", CancellationToken.None);
        Assert.True(await meta.MarkExportQueuedAsync(pending, CancellationToken.None));

        var (exitCode, output) = await CliProcess.RunAsync(environment, Timeout, "snapshot");
        Assert.True(exitCode == 0, output);
        Assert.Contains("(in this process)", output);
        Assert.Contains("consistency none", output);

        var record = await RecordAsync(database, SnapshotIdIn(output));
        Assert.Equal(BackupStatus.Complete, record.Status);
        Assert.Equal("none", record.Manifest!.Consistency);
        await AssertArtifactMatchesSourceAsync(database, record);
        var untouched = await RecordAsync(database, pending);
        Assert.Equal(BackupStatus.Requested, untouched.Status);
        Assert.Equal(0, untouched.Export!.Attempts);
        Assert.Null(untouched.Artifact);
    }

    /// <summary>
    /// The service reaches MongoDB through a proxy that holds the export's second batch (its <c>getMore</c>), so the
    /// export is certainly in the middle of a collection when the service gets SIGKILL. The request's delivery was
    /// acknowledged before the kill (nothing is redelivered): after a restart the export runner finds the export in
    /// backups_meta, takes over the dead exporter's lease once it expired and the snapshot completes, once.
    /// </summary>
    [Fact]
    public async Task Killing_the_service_mid_export_leaves_nothing_created_and_after_restart_the_snapshot_completes_once()
    {
        var (environment, database) = await PrepareAsync(replicaSet: true, rabbit: true, users: 0);
        // More documents than the export reads in its first batch (1,000): reading the rest takes a getMore.
        await database.GetCollection<BsonDocument>("users").InsertManyAsync(Enumerable.Range(0, 1500).Select(i => new BsonDocument("_id", i)));
        await using var mongo = FaultProxy.For(environment["MONGODB_URI"]!);
        environment["MONGODB_URI"] = new MongoUrlBuilder(mongo.Through(environment["MONGODB_URI"]!)) { DirectConnection = true, ReplicaSetName = null }.ToString();
        environment["SNAPSHOT_LEASE_SECONDS"] = "5";
        environment["RETRY_MIN_SECONDS"] = "1";
        environment["RETRY_MAX_SECONDS"] = "3";
        environment["RETRY_LIMIT"] = "10";
        var meta = database.GetCollection<BsonDocument>(BackupsMetaStore.CollectionName);
        var files = ArtifactDatabase(database).GetCollection<BsonDocument>("teleguard_artifacts.files");
        var artifactsOf = (string snapshotId) => files.CountDocumentsAsync(new BsonDocument("metadata.snapshotId", snapshotId));

        string id;
        using (var first = CliProcess.Start(environment, "run"))
        {
            id = await RequestAndHoldExportAsync(first, environment, meta, mongo);
            first.Kill(); // SIGKILL mid-export
        }

        Assert.Equal(1, mongo.HeldRequests);
        var afterCrash = await meta.Find(new BsonDocument("_id", id)).SingleAsync();
        Assert.Equal("exporting", afterCrash["status"].AsString);
        Assert.Equal(1, afterCrash["export"]["attempts"].AsInt32);
        Assert.False(afterCrash.Contains("artifact"));
        Assert.Equal(0, await artifactsOf(id));

        mongo.ReleaseHeld(); // from now on every read goes through
        using var second = CliProcess.Start(environment, "run");
        var record = await CompletedAsync(meta, id);
        Assert.True(record.Export!.Attempts == 2, $"the restarted service took over the dead exporter's lease once\n{second.Output}");
        Assert.Equal(1, await artifactsOf(id));
        Assert.Single(Regex.Matches(second.Output, $"Snapshot {id} created:"));
        var manifest = await AssertArtifactMatchesSourceAsync(database, record);
        Assert.Equal(1500, manifest.Collections.Single(c => c.Name == "users").Documents);
    }

    /// <summary>
    /// SIGTERM mid-export (the proxy holds its second batch): the service gives the export's lease back without
    /// counting the attempt or recording a failure, and exits; once started again it resumes the export from
    /// backups_meta (its request was acknowledged long before) and the snapshot completes once, in one counted attempt.
    /// </summary>
    [Fact]
    public async Task Stopping_the_service_mid_export_gives_the_export_back_uncounted_and_after_restart_it_completes_once()
    {
        var (environment, database) = await PrepareAsync(replicaSet: true, rabbit: true, users: 0);
        await database.GetCollection<BsonDocument>("users").InsertManyAsync(Enumerable.Range(0, 1500).Select(i => new BsonDocument("_id", i)));
        await using var mongo = FaultProxy.For(environment["MONGODB_URI"]!);
        environment["MONGODB_URI"] = new MongoUrlBuilder(mongo.Through(environment["MONGODB_URI"]!)) { DirectConnection = true, ReplicaSetName = null }.ToString();
        environment["SNAPSHOT_LEASE_SECONDS"] = "600"; // a lease that would outlast the test: only a release lets it go on
        environment["RETRY_LIMIT"] = "0"; // a failure recorded now would be final
        var meta = database.GetCollection<BsonDocument>(BackupsMetaStore.CollectionName);
        var files = ArtifactDatabase(database).GetCollection<BsonDocument>("teleguard_artifacts.files");

        string id;
        using (var first = CliProcess.Start(environment, "run"))
        {
            id = await RequestAndHoldExportAsync(first, environment, meta, mongo);
            first.Terminate();
            Assert.Equal(0, await first.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        }

        var afterStop = BsonSerializer.Deserialize<BackupRecord>(await meta.Find(new BsonDocument("_id", id)).SingleAsync());
        Assert.Equal(BackupStatus.Requested, afterStop.Status);
        Assert.Equal(0, afterStop.Export!.Attempts);
        Assert.Null(afterStop.Export.LeaseUntil);
        Assert.Null(afterStop.Error);
        Assert.Null(afterStop.Artifact);

        mongo.ReleaseHeld();
        using var second = CliProcess.Start(environment, "run");
        var record = await CompletedAsync(meta, id);
        Assert.True(record.Export!.Attempts == 1, $"one counted attempt\n{second.Output}");
        Assert.Equal(1, await files.CountDocumentsAsync(new BsonDocument("metadata.snapshotId", id)));
        Assert.Single(Regex.Matches(second.Output, $"Snapshot {id} created:"));
        var manifest = await AssertArtifactMatchesSourceAsync(database, record);
        Assert.Equal(1500, manifest.Collections.Single(c => c.Name == "users").Documents);
    }

    /// <summary>
    /// With <paramref name="service"/> started: requests a snapshot and waits until its export is held at its second
    /// batch by <paramref name="mongo"/> and the request's delivery was acknowledged. Returns the snapshot id.
    /// </summary>
    private async Task<string> RequestAndHoldExportAsync(CliProcess service, Dictionary<string, string?> environment, IMongoCollection<BsonDocument> meta, FaultProxy mongo)
    {
        mongo.HoldRequestsContaining("getMore");
        await TestHosts.EventuallyAsync(() => Task.FromResult(service.Output.Contains("Bus started") ? "up" : null), TimeSpan.FromSeconds(60), "the service to start");
        var (requestCode, requestOutput) = await CliProcess.RunAsync(environment, Timeout, "snapshot");
        Assert.Equal(0, requestCode);
        var id = SnapshotIdIn(requestOutput);
        await TestHosts.EventuallyAsync(async () => mongo.HeldRequests > 0
            && (await meta.Find(new BsonDocument("_id", id)).FirstOrDefaultAsync())?["status"] == "exporting" ? "held" : null,
            TimeSpan.FromSeconds(60), $"the export to wait for its second batch\n{service.Output}");
        await AssertRequestAcknowledgedAsync();
        return id;
    }

    private static async Task<BackupRecord> CompletedAsync(IMongoCollection<BsonDocument> meta, string id) =>
        BsonSerializer.Deserialize<BackupRecord>(await TestHosts.EventuallyAsync(async () =>
        {
            var document = await meta.Find(new BsonDocument("_id", id)).FirstOrDefaultAsync();
            return document?["status"] == "complete" ? document : null;
        }, TimeSpan.FromSeconds(120), "the snapshot to complete after the restart"));

    // The request's delivery ended before the export did: the broker counted its acknowledgement and holds nothing.
    private async Task AssertRequestAcknowledgedAsync()
    {
        var queue = await TestHosts.EventuallyAsync(async () =>
                await _vhost!.QueueStateAsync("teleguard-snapshot") is { Acknowledged: >= 1 } state ? $"{state.Messages} messages, {state.Unacknowledged} unacknowledged" : null,
            TimeSpan.FromSeconds(20), "the broker to count the request's acknowledgement");
        Assert.Equal("0 messages, 0 unacknowledged", queue);
    }

    public async ValueTask DisposeAsync()
    {
        if (_vhost is not null)
        {
            await _vhost.DisposeAsync();
        }

        _workDirectory.Dispose();
    }
}

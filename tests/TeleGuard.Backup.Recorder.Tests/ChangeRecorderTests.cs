using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Recorder.Tests;

/// <summary>
/// The change recorder against the replica-set stand-in: every write after the chain's snapshot is recorded once, in
/// order, in increments whose hashes and ranges link up; a killed recorder's successor continues without gap or duplicate;
/// lost history is recorded as a gap, alerted, and a new chain starts from a fresh snapshot.
/// These tests share the stand-in's one change history (one of them shrinks it), so they run one at a time.
/// </summary>
[Collection(nameof(SharedChangeHistory))]
public sealed class ChangeRecorderTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task Every_write_after_the_chain_snapshot_is_recorded_once_in_order_in_linked_increments()
    {
        await using var deployment = await RecorderDeployment.CreateAsync();
        await deployment.StartHostAsync();
        // With no snapshot yet the recorder asks for one and starts its chain from it.
        var chainStart = await TestHosts.EventuallyAsync(
            () => deployment.Increments.FindLatestAsync(deployment.Database.DatabaseNamespace.DatabaseName, CancellationToken.None),
            Patience, "the first increment");
        var snapshot = await new BackupsMetaStore(deployment.Database, TimeProvider.System).GetAsync(chainStart.Chain, CancellationToken.None);
        Assert.Equal("recorder-start", snapshot!.Reason);

        var items = deployment.Database.GetCollection<BsonDocument>("items");
        var expected = new List<(string Operation, BsonValue Id)>();
        for (var i = 0; i < 30; i++)
        {
            await items.InsertOneAsync(new BsonDocument { { "_id", i }, { "n", i }, { "tags", new BsonArray { "a", "b" } }, { "nested", new BsonDocument("x", 1) } });
            expected.Add((ChangeEventLine.Insert, i));
        }

        for (var i = 0; i < 30; i += 3)
        {
            await items.UpdateOneAsync(new BsonDocument("_id", i), new BsonDocument { { "$set", new BsonDocument("nested.x", i) }, { "$unset", new BsonDocument("n", "") }, { "$push", new BsonDocument("tags", "c") } });
            expected.Add((ChangeEventLine.Update, i));
        }

        await items.ReplaceOneAsync(new BsonDocument("_id", 1), new BsonDocument { { "_id", 1 }, { "replaced", true } });
        expected.Add((ChangeEventLine.Replace, 1));
        await items.DeleteOneAsync(new BsonDocument("_id", 2));
        expected.Add((ChangeEventLine.Delete, 2));
        var lastWrite = new BsonTimestamp(await ClusterTimes.NowAsync(deployment.Client));

        var records = await deployment.WaitForCoverageAsync(lastWrite, Patience);
        var increments = await deployment.ReadBackAsync(records);
        RecorderDeployment.AssertChainLinks(increments.Select(i => i.Manifest).ToList());
        Assert.Equal(snapshot.Manifest!.ClusterTime, ChangeEventLine.ToBsonTimestamp(increments[0].Manifest.From));
        var recorded = increments.SelectMany(i => i.Events)
            .Where(e => e["ns"]["coll"] == "items" && e.Contains("documentKey"))
            .Select(e => (e["operationType"].AsString, e["documentKey"]["_id"]))
            .ToList();
        Assert.Equal(expected, recorded);

        var update = increments.SelectMany(i => i.Events).First(e => e["operationType"] == "update");
        Assert.Equal(new BsonArray { "n" }, update["updateDescription"]["removedFields"].AsBsonArray);
        // Every increment is announced for the destinations, with what its record says.
        var announced = await TestHosts.EventuallyAsync(
            () => Task.FromResult(deployment.Published.Of<IncrementCreated>().Count >= records.Count ? deployment.Published.Of<IncrementCreated>() : null),
            Patience, "an IncrementCreated per increment");
        Assert.Equal(records.Select(r => r.Id), announced.Take(records.Count).Select(a => a.IncrementId));
    }

    [Fact]
    public async Task A_recorder_killed_mid_increment_is_continued_by_the_next_without_losing_or_repeating_an_event()
    {
        await using var deployment = await RecorderDeployment.CreateAsync(incrementSeconds: 2);
        await deployment.StartHostAsync(recorder: false);
        var first = await deployment.StartRecorderProcessAsync();
        var databaseName = deployment.Database.DatabaseNamespace.DatabaseName;
        await TestHosts.EventuallyAsync(() => deployment.Increments.FindLatestAsync(databaseName, CancellationToken.None), Patience, "the first increment");

        var items = deployment.Database.GetCollection<BsonDocument>("items");
        var next = 0;
        async Task WriteAsync(int count)
        {
            for (var i = 0; i < count; i++, next++)
            {
                await items.InsertOneAsync(new BsonDocument { { "_id", next }, { "payload", new string('x', 100) } });
                await Task.Delay(10);
            }
        }

        // Writes go on until an increment holding some of them is recorded, and then a little longer, so that the kill
        // lands with events read but not yet recorded.
        await WriteAsync(50);
        await TestHosts.EventuallyAsync(async () =>
        {
            var latest = await deployment.Increments.FindLatestAsync(databaseName, CancellationToken.None);
            return latest is { Events: > 0 } ? latest : null;
        }, Patience, "an increment with events");
        await WriteAsync(50);
        first.Kill();
        await WriteAsync(50); // while no recorder runs

        await deployment.StartRecorderProcessAsync();
        await WriteAsync(50);
        var lastWrite = new BsonTimestamp(await ClusterTimes.NowAsync(deployment.Client));
        var records = await deployment.WaitForCoverageAsync(lastWrite, Patience);

        var increments = await deployment.ReadBackAsync(records);
        RecorderDeployment.AssertChainLinks(increments.Select(i => i.Manifest).ToList());
        Assert.True(records.Select(r => r.Recorder).Distinct().Count() == 2, "both recorders recorded increments");
        var inserted = increments.SelectMany(i => i.Events)
            .Where(e => e["operationType"] == "insert" && e["ns"]["coll"] == "items")
            .Select(e => e["documentKey"]["_id"].AsInt32)
            .ToList();
        Assert.Equal(Enumerable.Range(0, next), inserted);
    }

    [Fact]
    public async Task Lost_history_is_recorded_as_a_gap_alerted_and_a_new_chain_starts_from_a_snapshot_requested_for_it()
    {
        await using var deployment = await RecorderDeployment.CreateAsync();
        var databaseName = deployment.Database.DatabaseNamespace.DatabaseName;
        var recorder = await deployment.StartHostAsync(snapshotService: true);
        var before = await TestHosts.EventuallyAsync(() => deployment.Increments.FindLatestAsync(databaseName, CancellationToken.None), Patience, "the first increment");
        await deployment.StopHostAsync(recorder);

        // While no recorder runs, the server's bounded history moves past the recorded resume point.
        var admin = deployment.Client.GetDatabase("admin");
        var oplog = (await admin.RunCommandAsync<BsonDocument>(new BsonDocument("serverStatus", 1)))["mongoshimOplog"].AsBsonDocument;
        try
        {
            await admin.RunCommandAsync<BsonDocument>(new BsonDocument { { "replSetResizeOplog", 1 }, { "maxEvents", 20 } });
            var items = deployment.Database.GetCollection<BsonDocument>("items");
            await items.InsertManyAsync(Enumerable.Range(0, 50).Select(i => new BsonDocument("_id", i)));
        }
        finally
        {
            await admin.RunCommandAsync<BsonDocument>(new BsonDocument { { "replSetResizeOplog", 1 }, { "maxEvents", oplog["maxEvents"] } });
        }

        await deployment.StartHostAsync();
        var gap = await TestHosts.EventuallyAsync(async () =>
            (await deployment.Increments.ListGapsAsync(databaseName, CancellationToken.None)).SingleOrDefault(g => g.NextChain is not null),
            Patience, "a gap followed by a new chain");
        Assert.Equal(before.Chain, gap.Chain);
        Assert.True(gap.CoveredTo >= before.To);
        Assert.Contains("ChangeStreamHistoryLost", gap.Reason);

        var alert = Assert.Single(deployment.Published.Of<BackupAlertRaised>());
        Assert.Equal("gap", alert.Kind);
        Assert.Equal(gap.Id, alert.AlertId);
        var request = Assert.Single(deployment.Published.Of<SnapshotRequested>(), r => r.Reason == "history-lost");
        Assert.Equal(request.SnapshotId, gap.RequestedSnapshotId);
        Assert.Equal(request.SnapshotId, gap.NextChain);
        var newChain = await TestHosts.EventuallyAsync(async () =>
        {
            var latest = await deployment.Increments.FindLatestAsync(databaseName, CancellationToken.None);
            return latest?.Chain == gap.NextChain ? latest : null;
        }, Patience, "an increment of the new chain");
        Assert.Equal(1, (await deployment.Increments.ListChainAsync(databaseName, newChain.Chain, 1, CancellationToken.None))[0].Sequence);

        var status = await CliProcess.RunAsync(deployment.Settings, TimeSpan.FromMinutes(1), "status");
        Assert.Contains($"gap after {DateTimeOffset.FromUnixTimeSeconds(gap.CoveredTo!.Timestamp):yyyy-MM-dd'T'HH:mm:ss'Z'} until snapshot {gap.NextChain}", status.StandardOutput);
        Assert.Contains("  store: from ", status.StandardOutput);
        var json = await CliProcess.RunAsync(deployment.Settings, TimeSpan.FromMinutes(1), "status", "--json");
        var pointInTime = System.Text.Json.Nodes.JsonNode.Parse(json.StandardOutput)!["pointInTime"]!;
        Assert.Equal(gap.NextChain, pointInTime["gaps"]![0]!["nextChain"]!.GetValue<string>());
        Assert.Equal(2, pointInTime["windows"]!["store"]!.AsArray().Count); // the ended chain's window and the new one
    }

    /// <summary>
    /// The snapshot the recorder asked for to start its first chain was exported without one cluster time (its read got
    /// SnapshotTooOld, as an export longer than the server's snapshot window does): no chain can start from it, and the
    /// recorder says so in one alert naming the snapshot and why, instead of only waiting. The next snapshot read at one
    /// cluster time starts the chain.
    /// </summary>
    [Fact]
    public async Task A_requested_snapshot_not_read_at_one_cluster_time_is_alerted_once_and_the_next_consistent_one_starts_the_chain()
    {
        await using var deployment = await RecorderDeployment.CreateAsync();
        var databaseName = deployment.Database.DatabaseNamespace.DatabaseName;
        await deployment.Database.GetCollection<BsonDocument>("items").InsertManyAsync(
            Enumerable.Range(0, 1500).Select(i => new BsonDocument { { "_id", i }, { "v", i } })); // more than one batch: the read needs a getMore
        var exporter = TestServices.UniqueName("nobase");
        await using var tooOld = await FailPoint.SetAsync(deployment.Uri, exporter, ["getMore"], new BsonDocument("times", 1), new BsonDocument("errorCode", 239));
        deployment.Settings["MONGODB_URI"] = new MongoUrlBuilder(deployment.Uri) { ApplicationName = exporter }.ToString();
        var snapshotService = await deployment.StartHostAsync(snapshotService: true, recorder: false);
        deployment.Settings["MONGODB_URI"] = deployment.Uri; // the recorder's own client is not hit
        await deployment.StartHostAsync(snapshotService: false, recorder: true);

        var alert = await TestHosts.EventuallyAsync(
            () => Task.FromResult(deployment.Published.Of<BackupAlertRaised>().SingleOrDefault(a => a.Kind == "no-base")), Patience, "the recorder's alert");
        var request = Assert.Single(deployment.Published.Of<SnapshotRequested>(), r => r.Reason == "recorder-start");
        Assert.Equal(request.SnapshotId, alert.SnapshotId);
        Assert.Contains($"{databaseName} cannot start: snapshot {request.SnapshotId} was not read at one cluster time (SnapshotTooOld while reading items", alert.Text);
        Assert.Null(await deployment.Increments.FindLatestAsync(databaseName, CancellationToken.None));

        // The next snapshot, as the schedule would ask for it, is read at one cluster time: the chain starts from it.
        var next = SnapshotIds.FromTime(DateTimeOffset.UtcNow.AddMinutes(1));
        await snapshotService.Services.GetRequiredService<IBus>().Publish(new SnapshotRequested(next, DateTimeOffset.UtcNow, "schedule"));
        var first = await TestHosts.EventuallyAsync(() => deployment.Increments.FindLatestAsync(databaseName, CancellationToken.None), Patience, "the first increment");
        Assert.Equal(next, first.Chain);
        Assert.Single(deployment.Published.Of<BackupAlertRaised>()); // the recorder polled many times meanwhile: said once
    }

    /// <summary>
    /// An earlier version took a snapshot read at no cluster time (stored with its null cluster time as
    /// {_csharpnull: true}) for the start of the first chain and then failed on every start. Now that choice is withdrawn,
    /// alerted, and the chain starts from a snapshot that was read at one cluster time.
    /// </summary>
    [Fact]
    public async Task A_first_chain_decided_on_a_snapshot_without_a_cluster_time_by_an_earlier_version_is_decided_again()
    {
        await using var deployment = await RecorderDeployment.CreateAsync();
        var databaseName = deployment.Database.DatabaseNamespace.DatabaseName;
        const string legacy = "20261126T040000Z";
        await deployment.Database.GetCollection<BsonDocument>(BackupsMetaStore.CollectionName).InsertOneAsync(new BsonDocument
        {
            { "_id", legacy }, { "kind", BackupRecord.SnapshotKind }, { "status", BackupStatus.Complete }, { "sinks", new BsonDocument() }, { "requestedAt", SnapshotIds.ToTime(legacy).UtcDateTime }, { "reason", "schedule" },
            { "updatedAt", SnapshotIds.ToTime(legacy).UtcDateTime },
            { "artifact", new BsonDocument { { "location", "gridfs:x/teleguard_artifacts/000000000000000000000000" }, { "size", 10L }, { "sha256", "00" } } },
            {
                "manifest", new BsonDocument
                {
                    { "formatVersion", 2 }, { "consistency", "none" }, { "consistencyReason", "SnapshotTooOld while reading items" },
                    { "clusterTime", new BsonDocument("_csharpnull", true) }, { "documents", 1L }, { "bytes", 10L }, { "collections", new BsonArray() },
                }
            },
        });
        Assert.Equal(legacy, await deployment.Increments.ClaimChainStartAsync(databaseName, "first", legacy, CancellationToken.None));

        await deployment.StartHostAsync();

        var first = await TestHosts.EventuallyAsync(() => deployment.Increments.FindLatestAsync(databaseName, CancellationToken.None), Patience, "the first increment");
        var request = Assert.Single(deployment.Published.Of<SnapshotRequested>(), r => r.Reason == "recorder-start");
        Assert.Equal(request.SnapshotId, first.Chain);
        Assert.Equal(request.SnapshotId, await deployment.Increments.FindChainStartAsync(databaseName, "first", CancellationToken.None));
        var alert = Assert.Single(deployment.Published.Of<BackupAlertRaised>());
        Assert.Equal(("no-base", legacy), (alert.Kind, alert.SnapshotId));
        Assert.Contains("SnapshotTooOld while reading items", alert.Text);
    }

    [Fact]
    public async Task A_new_chain_decided_after_a_gap_is_started_by_the_next_recorder_when_the_first_died_before_recording_it()
    {
        await using var deployment = await RecorderDeployment.CreateAsync();
        var databaseName = deployment.Database.DatabaseNamespace.DatabaseName;
        var now = DateTime.UtcNow;
        // What a recorder leaves when it dies after a gap, having chosen the snapshot of the next chain but before that
        // chain's first increment: the ended chain's last increment, the gap (alerted, snapshot requested), the decision.
        var ended = SnapshotIds.FromTime(DateTimeOffset.UtcNow.AddHours(-2));
        await deployment.Increments.TryInsertAsync(new IncrementRecord
        {
            Id = IncrementManifest.IdOf(ended, 7), Database = databaseName, Chain = ended, Sequence = 7, BaseSnapshotId = ended,
            From = new BsonTimestamp(1, 1), To = new BsonTimestamp(2, 1), Sha256 = new string('a', 64), ClosedAt = now.AddHours(-1),
            Artifact = new ArtifactRecord { Location = "dir:gone" }, ResumeToken = new BsonDocument("_data", "820000000200000001"), AnnouncedAt = now,
        }, CancellationToken.None);
        var gap = await deployment.Increments.RecordGapAsync(new HistoryGapRecord
        {
            Id = HistoryGapRecord.IdOf(databaseName, ended), Database = databaseName, Chain = ended, CoveredTo = new BsonTimestamp(2, 1),
            DetectedAt = now.AddMinutes(-5), Reason = "test", AlertedAt = now.AddMinutes(-5),
        }, CancellationToken.None);
        var next = SnapshotIds.FromTime(DateTimeOffset.UtcNow.AddMinutes(-4));
        await deployment.Database.GetCollection<BackupRecord>(BackupsMetaStore.CollectionName).InsertOneAsync(new BackupRecord
        {
            Id = next, Status = BackupStatus.Complete, RequestedAt = now, CreatedAt = now,
            Artifact = new ArtifactRecord { Location = "dir:none", Sha256 = new string('0', 64) },
            Manifest = new ManifestSummary { FormatVersion = 2, Consistency = "snapshot", ClusterTime = new BsonTimestamp(await ClusterTimes.NowAsync(deployment.Client)), DataTime = now },
        });
        Assert.Equal(next, await deployment.Increments.ClaimChainStartAsync(databaseName, gap.Id, next, CancellationToken.None));
        // A newer snapshot appeared since: the decision stands (another recorder may already be recording that chain).
        var newer = SnapshotIds.FromTime(DateTimeOffset.UtcNow.AddMinutes(-1));
        await deployment.Database.GetCollection<BackupRecord>(BackupsMetaStore.CollectionName).InsertOneAsync(new BackupRecord
        {
            Id = newer, Status = BackupStatus.Complete, RequestedAt = now, CreatedAt = now,
            Artifact = new ArtifactRecord { Location = "dir:none", Sha256 = new string('0', 64) },
            Manifest = new ManifestSummary { FormatVersion = 2, Consistency = "snapshot", ClusterTime = new BsonTimestamp(await ClusterTimes.NowAsync(deployment.Client)), DataTime = now },
        });

        await deployment.StartHostAsync(snapshotService: false);
        var first = await TestHosts.EventuallyAsync(async () =>
        {
            var latest = await deployment.Increments.FindLatestAsync(databaseName, CancellationToken.None);
            return latest?.Sequence == 1 ? latest : null;
        }, Patience, "the first increment of a new chain");

        Assert.Equal(next, first.Chain);

        Assert.Equal(1, first.Sequence);
        Assert.Equal(next, (await deployment.Increments.FindGapAsync(gap.Id, CancellationToken.None))!.NextChain);
        Assert.Empty(deployment.Published.Of<SnapshotRequested>()); // the decision stood: nothing asked again
        Assert.Empty(deployment.Published.Of<BackupAlertRaised>()); // alerted before
    }

    [Fact]
    public async Task On_a_standalone_server_the_recorder_says_it_cannot_record_and_asks_for_nothing()
    {
        await using var deployment = await RecorderDeployment.CreateAsync();
        deployment.Settings["MONGODB_URI"] = await TestServices.MongoUriAsync(deployment.Database.DatabaseNamespace.DatabaseName);
        await deployment.StartHostAsync(snapshotService: false);

        await TestHosts.EventuallyAsync(() => Task.FromResult(deployment.Logs.All.Contains("it has no change streams", StringComparison.Ordinal) ? "logged" : null),
            Patience, "the recorder's error line");
        // The recorder returned right after that line: it requested no snapshot and recorded nothing.
        Assert.Empty(deployment.Published.Of<SnapshotRequested>());
        Assert.Null(await deployment.Increments.FindLatestAsync(deployment.Database.DatabaseNamespace.DatabaseName, CancellationToken.None));
    }
}

[CollectionDefinition(nameof(SharedChangeHistory), DisableParallelization = true)]
public sealed class SharedChangeHistory;

using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Snapshot.Tests;

/// <summary>
/// What "consistency: snapshot" promises, checked against a server that isolates reads (a real replica set): the
/// stand-in accepts snapshot sessions but shows later writes in them, so these tests only run against real MongoDB.
/// </summary>
// Lowers the server's snapshot window: never at the same time as the service tests, whose exports it would push into
// the SnapshotTooOld fallback.
[Collection(nameof(ServerFailPoint))]
public sealed class ConsistencyTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task An_export_during_continuous_writes_holds_exactly_the_documents_written_up_to_its_cluster_time()
    {
        TestServices.SkipOnMongoStandIn("the stand-in has no snapshot isolation (later writes are visible in a snapshot session)");
        var uri = await TestServices.MongoReplicaSetUriAsync();
        var client = new MongoClient(uri);
        var database = client.GetDatabase(MongoUrl.Create(uri).DatabaseName);
        var ledger = database.GetCollection<BsonDocument>("ledger");
        await ledger.InsertManyAsync(Enumerable.Range(0, 5000).Select(i => new BsonDocument { { "_id", -1 - i }, { "pad", new string('p', 300) } }));

        // The writer records, for every insert the server acknowledged, the cluster time of that write.
        var written = new ConcurrentDictionary<int, BsonTimestamp>();
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                using var session = await client.StartSessionAsync(new ClientSessionOptions { CausalConsistency = true });
                await ledger.InsertOneAsync(session, new BsonDocument { { "_id", i }, { "pad", "x" } });
                written[i] = session.OperationTime;
            }
        });
        await TestHosts.EventuallyAsync(() => Task.FromResult(written.Count > 200 ? "writing" : null), TimeSpan.FromSeconds(30), "the writer to get going");

        var manifest = await new SnapshotExporter(client, database.DatabaseNamespace.DatabaseName, NullLogger<SnapshotExporter>.Instance)
            .ExportAsync("20261130T120000Z", _temp.Path, new SnapshotExportOptions { BatchSize = 100 }, CancellationToken.None);
        var afterExport = written.Count;
        await TestHosts.EventuallyAsync(() => Task.FromResult(written.Count > afterExport + 10 ? "more" : null), TimeSpan.FromSeconds(30), "writes after the export");
        await stop.CancelAsync();
        await writer;

        Assert.Equal(SnapshotConsistency.Snapshot, manifest.Consistency.Mode);
        var at = new BsonTimestamp((int)manifest.Consistency.ClusterTime!.T, (int)manifest.Consistency.ClusterTime.I);
        var expected = written.Where(w => w.Value <= at).Select(w => w.Key).Order().ToList();
        Assert.Contains(written, w => w.Value > at); // writes went on after the snapshot's time: the check can fail
        var reader = new CanonicalJsonReader();
        var exported = manifest.Collections.Single(c => c.Name == "ledger").Parts
            .SelectMany(p => File.ReadAllLines(Path.Combine(_temp.Path, p.File), Encoding.UTF8))
            .Select(line => new RawBsonDocument(reader.Decode(Encoding.UTF8.GetBytes(line)).ToArray())["_id"].AsInt32)
            .Where(id => id >= 0)
            .Order()
            .ToList();
        Assert.Equal(expected, exported);
    }

    [Fact]
    public async Task An_export_longer_than_the_servers_snapshot_window_completes_without_the_session_and_says_consistency_none()
    {
        TestServices.SkipOnMongoStandIn("the stand-in keeps no snapshot history and never answers SnapshotTooOld");
        var uri = await TestServices.MongoReplicaSetUriAsync();
        var admin = new MongoClient(uri).GetDatabase("admin");
        var window = (await admin.RunCommandAsync<BsonDocument>(new BsonDocument { { "getParameter", 1 }, { "minSnapshotHistoryWindowInSeconds", 1 } }))["minSnapshotHistoryWindowInSeconds"];
        await using var proxy = FaultProxy.For(uri);
        var through = new MongoUrlBuilder(proxy.Through(uri)) { DirectConnection = true, ReplicaSetName = null }.ToString();
        var client = new MongoClient(through);
        var database = client.GetDatabase(MongoUrl.Create(uri).DatabaseName);
        await database.GetCollection<BsonDocument>("big").InsertManyAsync(Enumerable.Range(0, 2000).Select(i => new BsonDocument("_id", i)));
        try
        {
            await admin.RunCommandAsync<BsonDocument>(new BsonDocument { { "setParameter", 1 }, { "minSnapshotHistoryWindowInSeconds", 1 } });
            proxy.HoldRequestsContaining("getMore"); // the export's first getMore waits while history moves on
            var export = new SnapshotExporter(client, database.DatabaseNamespace.DatabaseName, NullLogger<SnapshotExporter>.Instance)
                .ExportAsync("20261130T120000Z", _temp.Path, new SnapshotExportOptions { BatchSize = 100 }, CancellationToken.None);
            await TestHosts.EventuallyAsync(() => Task.FromResult(proxy.HeldRequests > 0 ? "held" : null), TimeSpan.FromSeconds(30), "the export's getMore to be held");
            var other = new MongoClient(uri).GetDatabase(database.DatabaseNamespace.DatabaseName).GetCollection<BsonDocument>("churn");
            for (var i = 0; i < 50; i++)
            {
                await other.InsertOneAsync(new BsonDocument("_id", i));
                await Task.Delay(100);
            }

            proxy.ReleaseHeld();
            var manifest = await export; // never a mix of points in time presented as one
            Assert.Equal(SnapshotConsistency.None, manifest.Consistency.Mode);
            Assert.Null(manifest.Consistency.ClusterTime);
            Assert.Contains("SnapshotTooOld while reading big", manifest.Consistency.Reason);
            Assert.Equal(2000, manifest.Collections.Single(c => c.Name == "big").Documents);
        }
        finally
        {
            await admin.RunCommandAsync<BsonDocument>(new BsonDocument { { "setParameter", 1 }, { "minSnapshotHistoryWindowInSeconds", window } });
        }
    }
}

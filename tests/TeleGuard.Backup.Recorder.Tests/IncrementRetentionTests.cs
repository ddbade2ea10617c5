using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.Export;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Recorder.Tests;

/// <summary>
/// The artifact store's retention removes increments with the snapshots before them, and never one after the oldest
/// snapshot it still holds, nor one younger than the retention window, nor one a destination is still copying.
/// </summary>
public sealed class IncrementRetentionTests
{
    [Fact]
    public async Task Store_retention_removes_only_increments_that_end_before_the_oldest_held_snapshot_and_are_older_than_the_window()
    {
        var name = TestServices.UniqueName("ret");
        var uri = await TestServices.MongoReplicaSetUriAsync(name);
        var client = new MongoClient(uri);
        var database = client.GetDatabase(name);
        var store = new GridFsArtifactStore(client.GetDatabase(name + ArtifactStoreOptions.DefaultDatabaseSuffix), ArtifactStoreOptions.DefaultBucket);
        var meta = new BackupsMetaStore(database, TimeProvider.System);
        var increments = new IncrementsStore(database);
        var now = DateTime.UtcNow;

        // The oldest snapshot whose artifact is still held has cluster time 200; an older one's artifact is gone.
        await database.GetCollection<BackupRecord>(BackupsMetaStore.CollectionName).InsertManyAsync(
        [
            Snapshot("20261101T000000Z", 100, now.AddHours(-30), deleted: true),
            Snapshot("20261101T010000Z", 200, now.AddHours(-29), deleted: false),
        ]);
        var chain = "20261101T000000Z";
        var before = await IncrementAsync(store, increments, name, chain, 1, from: 100, to: 150, closedAt: now.AddHours(-29));
        var endingAtSnapshot = await IncrementAsync(store, increments, name, chain, 2, from: 150, to: 200, closedAt: now.AddHours(-29));
        var after = await IncrementAsync(store, increments, name, chain, 3, from: 200, to: 250, closedAt: now.AddHours(-28));
        var recentBefore = await IncrementAsync(store, increments, name, "20261101T003000Z", 1, from: 120, to: 190, closedAt: now.AddHours(-1));
        // Still to be copied by a destination (a Telegram batch due): its artifact stays whatever its age.
        var stillCopying = await IncrementAsync(store, increments, name, "20261101T003000Z", 2, from: 190, to: 195, closedAt: now.AddHours(-29));
        await database.GetCollection<IncrementRecord>(BackupsMetaStore.CollectionName).UpdateOneAsync(
            Builders<IncrementRecord>.Filter.Eq(r => r.Id, stillCopying),
            Builders<IncrementRecord>.Update.Set("sinks.telegram", new SinkRecord { Status = SinkStatus.Running }));
        // Parked at a branch for its predecessor: its artifact is what it will be copied from, however long that takes.
        var parked = await IncrementAsync(store, increments, name, "20261101T003000Z", 3, from: 195, to: 198, closedAt: now.AddHours(-29));
        await increments.RecordSinkWaitingAsync(parked, BackupSinks.GitHub, "waits", now.AddHours(-29), CancellationToken.None);

        var retention = new ArtifactRetention(meta, increments, store, Options.Create(new RetentionOptions()),
            Options.Create(new MongoOptions { Uri = uri }), TimeProvider.System, NullLogger<ArtifactRetention>.Instance);
        await retention.ApplyAsync(CancellationToken.None);

        foreach (var (id, removed) in new[] { (before, true), (endingAtSnapshot, true), (after, false), (recentBefore, false), (stillCopying, false), (parked, false) })
        {
            var record = (await increments.GetAsync(id, CancellationToken.None))!;
            Assert.True(removed == record.Artifact.DeletedAt is not null, $"{id}: removed {record.Artifact.DeletedAt is not null}, expected {removed}");
            if (removed)
            {
                await Assert.ThrowsAsync<ArtifactNotFoundException>(() => store.OpenReadAsync(record.Artifact.Location, CancellationToken.None));
            }
            else
            {
                await using var stream = await store.OpenReadAsync(record.Artifact.Location, CancellationToken.None);
                Assert.True(stream.ReadByte() >= 0);
            }
        }
    }

    private static BackupRecord Snapshot(string id, int clusterSeconds, DateTime at, bool deleted) => new()
    {
        Id = id, Status = BackupStatus.Complete, RequestedAt = at, CreatedAt = at,
        Artifact = new ArtifactRecord { Location = "dir:none", Sha256 = new string('0', 64), DeletedAt = deleted ? at.AddHours(1) : null },
        Manifest = new ManifestSummary { FormatVersion = 2, Consistency = "snapshot", ClusterTime = new BsonTimestamp(clusterSeconds, 1), DataTime = at },
    };

    private static async Task<string> IncrementAsync(GridFsArtifactStore store, IncrementsStore increments, string database, string chain, int sequence,
        int from, int to, DateTime closedAt)
    {
        var id = IncrementManifest.IdOf(chain, sequence);
        var stored = await store.SaveAsync(id, (stream, ct) => stream.WriteAsync(new byte[] { 1, 2, 3 }, ct).AsTask(), CancellationToken.None);
        Assert.True(await increments.TryInsertAsync(new IncrementRecord
        {
            Id = id, Database = database, Chain = chain, Sequence = sequence, BaseSnapshotId = chain,
            From = new BsonTimestamp(from, 1), To = new BsonTimestamp(to, 1), Sha256 = new string('a', 64), ClosedAt = closedAt,
            Artifact = new ArtifactRecord { Location = stored.Location, Size = stored.Size, Sha256 = stored.Sha256 }, AnnouncedAt = closedAt,
        }, CancellationToken.None));
        return id;
    }
}

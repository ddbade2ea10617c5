using Microsoft.Extensions.Logging.Abstractions;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.SnapshotFormat.Tests;

/// <summary>A restore facing a hostile snapshot or a second restore never harms the target.</summary>
public sealed class RestoreAdversaryTests : IDisposable
{
    private readonly TemporaryDirectory _work = new();

    public void Dispose() => _work.Dispose();

    // A crafted snapshot naming a restore's work collection (here its swap marker, whose items a later restore would
    // obey) is refused before anything is written.
    [Fact]
    public async Task A_snapshot_naming_a_restore_work_collection_is_refused_and_the_target_keeps_everything()
    {
        var (client, folder, exported) = await ExportAsync(new BsonDocument { { "_id", 1 }, { "items", new BsonArray { new BsonDocument { { "index", 1 }, { "name", "victim" } } } } });
        var planted = exported.Collections.Single() with { Name = "teleguard.restore.0123456789ab.swap" };
        var manifest = exported with { Collections = [planted] };
        var target = client.GetDatabase(TestServices.UniqueName("target"));
        await target.GetCollection<BsonDocument>("victim").InsertOneAsync(new BsonDocument { { "_id", 1 }, { "precious", true } });

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => new SnapshotRestorer(NullLogger.Instance).RestoreAsync(
            folder, manifest, client, target.DatabaseNamespace.DatabaseName, new RestoreOptions { Drop = true }, null, CancellationToken.None));

        Assert.Contains("no export writes", error.Message);
        Assert.Equal(["victim"], await (await target.ListCollectionNamesAsync()).ToListAsync());
    }

    // While one restore holds the target database, a second one is refused before it touches anything (it would
    // otherwise take the first one's work collections for a dead restore's and drop them).
    [Fact]
    public async Task A_second_restore_into_the_same_database_is_refused_while_the_first_runs()
    {
        var (client, folder, manifest) = await ExportAsync(new BsonDocument { { "_id", 1 }, { "from", "snapshot" } });
        var target = client.GetDatabase(TestServices.UniqueName("target"));
        var running = RestoreWorkCollections.NewRunId();
        await target.GetCollection<BsonDocument>(RestoreWorkCollections.Staged(running, 1)).InsertOneAsync(new BsonDocument("_id", "being written"));
        await using (await RestoreLease.TakeAsync(target, running, CancellationToken.None))
        {
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => new SnapshotRestorer(NullLogger.Instance).RestoreAsync(
                folder, manifest, client, target.DatabaseNamespace.DatabaseName, new RestoreOptions(), null, CancellationToken.None));
            Assert.Contains($"Another restore into {target.DatabaseNamespace.DatabaseName} is running (run {running}", error.Message);
            Assert.Equal(1, await target.GetCollection<BsonDocument>(RestoreWorkCollections.Staged(running, 1)).CountDocumentsAsync(FilterDefinition<BsonDocument>.Empty));
        }

        // Once it has ended, the next restore may go on (and removes what it left).
        var lines = new List<string>();
        await new SnapshotRestorer(NullLogger.Instance).RestoreAsync(folder, manifest, client, target.DatabaseNamespace.DatabaseName, new RestoreOptions(), lines.Add, CancellationToken.None);
        Assert.Contains(lines, l => l.Contains($"removed 1 temporary collections left by an interrupted restore (run {running})", StringComparison.Ordinal));
        Assert.Equal(["big"], await (await target.ListCollectionNamesAsync()).ToListAsync());
    }

    private async Task<(MongoClient Client, string Folder, SnapshotManifest Manifest)> ExportAsync(BsonDocument document)
    {
        var client = new MongoClient(await TestServices.MongoUriAsync());
        var source = client.GetDatabase(TestServices.UniqueName("source"));
        await source.GetCollection<BsonDocument>("big").InsertOneAsync(document);
        var folder = Path.Combine(_work.Path, Guid.NewGuid().ToString("N"));
        var manifest = await new SnapshotExporter(client, source.DatabaseNamespace.DatabaseName, NullLogger<SnapshotExporter>.Instance)
            .ExportAsync("20261130T120000Z", folder, new SnapshotExportOptions(), CancellationToken.None);
        return (client, folder, manifest);
    }
}

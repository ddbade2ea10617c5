using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Snapshot.Tests;

[Collection(nameof(ServerFailPoint))]
public sealed class SnapshotExporterTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static SnapshotExporter Exporter(SourceDatabase source) =>
        new(source.Client, source.Database.DatabaseNamespace.DatabaseName, NullLogger<SnapshotExporter>.Instance);

    private static async Task<BsonDocument> ReadDocumentAsync(string path)
    {
        var line = await File.ReadAllTextAsync(path);
        return CanonicalJsonReader.ReadDocument(Encoding.UTF8.GetBytes(line));
    }

    [Fact]
    public async Task A_replica_set_export_holds_every_document_in_id_order_losslessly_with_indexes_and_snapshot_consistency()
    {
        var source = await SourceDatabase.CreateAsync(replicaSet: true);
        var before = await ClusterTimes.NowAsync(source.Client);
        var manifest = await Exporter(source).ExportAsync("20261126T040000Z", _temp.Path, new SnapshotExportOptions(), CancellationToken.None);
        var after = await ClusterTimes.NowAsync(source.Client);

        Assert.Equal(SnapshotConsistency.Snapshot, manifest.Consistency.Mode);
        // The snapshot's time: not before the writes that preceded the export, not after it ended.
        var clusterTime = manifest.Consistency.ClusterTime!;
        Assert.InRange(new BsonTimestamp((int)clusterTime.T, (int)clusterTime.I).Value, before, after);
        Assert.Equal(["dotted.name", "empty", "everything", "users"], manifest.Collections.Select(c => c.Name));
        Assert.Equal(source.Database.DatabaseNamespace.DatabaseName, manifest.Source.Database);
        Assert.Equal("rs0", manifest.Source.ReplicaSet);
        await SnapshotArchive.VerifyDirectoryAsync(_temp.Path, CancellationToken.None);

        foreach (var collection in manifest.Collections)
        {
            var expected = await source.ReadOrderedAsync(collection.Name);
            Assert.Equal(expected.Count, collection.Documents);
            var lines = collection.Parts.SelectMany(p => File.ReadAllLines(Path.Combine(_temp.Path, p.File), Encoding.UTF8)).ToList();
            Assert.Equal(expected.Count, lines.Count);
            for (var i = 0; i < lines.Count; i++)
            {
                Assert.Equal(expected[i], new CanonicalJsonReader().Decode(Encoding.UTF8.GetBytes(lines[i])).ToArray()); // byte for byte
            }
        }

        // The sign of -0.0 is in the text even though the driver's reader cannot return it.
        var everything = manifest.Collections.Single(c => c.Name == "everything");
        var text = string.Concat(everything.Parts.Select(p => File.ReadAllText(Path.Combine(_temp.Path, p.File))));
        Assert.Contains("\"negativeZero\":{\"$numberDouble\":\"-0.0\"}", text);

        var metadata = await ReadDocumentAsync(Path.Combine(_temp.Path, manifest.Collections.Single(c => c.Name == "users").Metadata.File));
        var indexes = metadata["indexes"].AsBsonArray.Select(i => i.AsBsonDocument).ToDictionary(i => i["name"].AsString);
        Assert.Equal(["_id_", "active_tenant", "email_unique", "seen_ttl", "tenant_email"], indexes.Keys.Order());
        Assert.True(indexes["email_unique"]["unique"].ToBoolean());
        Assert.Equal(new BsonDocument { { "tenant", 1 }, { "email", -1 } }, indexes["tenant_email"]["key"]);
        Assert.Equal(30 * 24 * 3600, indexes["seen_ttl"]["expireAfterSeconds"].ToInt64());
        Assert.Equal(new BsonDocument("active", true), indexes["active_tenant"]["partialFilterExpression"]);
    }

    /// <summary>
    /// A read in the snapshot session answered SnapshotTooOld (239), as a replica set does once an export outlasts
    /// minSnapshotHistoryWindowInSeconds (the fail point answers it to users' getMore once, for this client alone): the
    /// export completes without the session and says so (mode none, with the reason), and what it holds restores equal
    /// to the source.
    /// </summary>
    [Fact]
    public async Task An_export_whose_snapshot_read_gets_SnapshotTooOld_completes_without_the_session_and_says_consistency_none()
    {
        var source = await SourceDatabase.CreateAsync(replicaSet: true, users: 1500); // users takes a getMore (batches of 1,000)
        var appName = TestServices.UniqueName("tooold");
        var client = new MongoClient(new MongoUrlBuilder(source.Uri) { ApplicationName = appName }.ToString());
        var exporter = new SnapshotExporter(client, source.Database.DatabaseNamespace.DatabaseName, NullLogger<SnapshotExporter>.Instance);
        SnapshotManifest manifest;
        await using (await FailPoint.SetAsync(source.Uri, appName, ["getMore"], new BsonDocument("times", 1), new BsonDocument("errorCode", 239)))
        {
            manifest = await exporter.ExportAsync("20261126T040000Z", _temp.Path, new SnapshotExportOptions(), CancellationToken.None);
        }

        Assert.Equal(SnapshotConsistency.None, manifest.Consistency.Mode);
        Assert.Null(manifest.Consistency.ClusterTime);
        Assert.Contains("SnapshotTooOld while reading users", manifest.Consistency.Reason);
        var written = SnapshotManifest.Parse(await File.ReadAllBytesAsync(Path.Combine(_temp.Path, SnapshotManifest.FileName)));
        Assert.Equal(manifest.Consistency, written.Consistency); // the manifest in the archive says it too
        await SnapshotArchive.VerifyDirectoryAsync(_temp.Path, CancellationToken.None);
        Assert.Equal(1500, manifest.Collections.Single(c => c.Name == "users").Documents); // the first batch is not doubled

        var target = source.Database.DatabaseNamespace.DatabaseName + "_restored";
        await new SnapshotRestorer(NullLogger.Instance).RestoreAsync(_temp.Path, manifest, source.Client, target, new RestoreOptions(), null, CancellationToken.None);
        var restored = new SourceDatabase { Uri = source.Uri, Client = source.Client, Database = source.Client.GetDatabase(target) };
        foreach (var collection in manifest.Collections)
        {
            Assert.Equal(await source.ReadOrderedAsync(collection.Name), await restored.ReadOrderedAsync(collection.Name));
        }
    }

    [Fact]
    public async Task A_standalone_export_says_it_has_no_point_in_time_consistency()
    {
        var source = await SourceDatabase.CreateAsync(replicaSet: false, users: 10);
        var manifest = await Exporter(source).ExportAsync("20261126T040000Z", _temp.Path, new SnapshotExportOptions(), CancellationToken.None);
        Assert.Equal(SnapshotConsistency.None, manifest.Consistency.Mode);
        Assert.Null(manifest.Consistency.ClusterTime);
        Assert.Equal(10, manifest.Collections.Single(c => c.Name == "users").Documents);
    }

    [Fact]
    public async Task Large_collections_are_split_into_parts_whose_concatenation_is_the_collection_hash()
    {
        var source = await SourceDatabase.CreateAsync(replicaSet: false, users: 3000);
        var manifest = await Exporter(source).ExportAsync("20261126T040000Z", _temp.Path,
            new SnapshotExportOptions { PartSizeBytes = 32 * 1024 }, CancellationToken.None);

        var users = manifest.Collections.Single(c => c.Name == "users");
        Assert.True(users.Parts.Count > 3);
        Assert.All(users.Parts, p => Assert.True(p.Bytes <= 32 * 1024));
        var whole = users.Parts.SelectMany(p => File.ReadAllBytes(Path.Combine(_temp.Path, p.File))).ToArray();
        Assert.Equal(users.Sha256, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(whole)));
        Assert.Equal(users.Bytes, whole.Length);
        // The ~15 MB document is larger than the part size: it gets a part of its own rather than being cut.
        var everything = manifest.Collections.Single(c => c.Name == "everything");
        Assert.Contains(everything.Parts, p => p.Documents == 1 && p.Bytes > 32 * 1024);
    }

    [Fact]
    public async Task Only_the_chosen_collections_are_exported_and_excluded_ones_never()
    {
        var source = await SourceDatabase.CreateAsync(replicaSet: false, users: 5);
        var manifest = await Exporter(source).ExportAsync("20261126T040000Z", _temp.Path, new SnapshotExportOptions
        {
            Collections = ["users", "everything"],
            ExcludedCollections = new HashSet<string> { "everything" },
        }, CancellationToken.None);
        Assert.Equal(["users"], manifest.Collections.Select(c => c.Name));
    }

    [Fact]
    public async Task Naming_a_collection_that_does_not_exist_fails_clearly()
    {
        var source = await SourceDatabase.CreateAsync(replicaSet: false, users: 1);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Exporter(source).ExportAsync("20261126T040000Z", _temp.Path,
            new SnapshotExportOptions { Collections = ["users", "nope"] }, CancellationToken.None));
        Assert.Contains("nope", error.Message);
        Assert.Contains("BACKUP_COLLECTIONS", error.Message);
    }

    [Theory]
    [InlineData("{ name: 'a', type: 'collection' }", null)]
    [InlineData("{ name: 'a' }", null)]
    [InlineData("{ name: 'v', type: 'view' }", null)]
    [InlineData("{ name: 't', type: 'timeseries' }", null)]
    [InlineData("{ name: 'f', type: 'future-kind' }", "collections of type 'future-kind' are not supported")]
    [InlineData("{ name: 'n', type: null }", "collections of type <Null> are not supported")]
    public void A_collection_of_a_type_the_exporter_does_not_know_is_skipped_with_a_reason(string listCollectionsEntry, string? reason)
    {
        var skip = SnapshotExporter.SkipReason(BsonDocument.Parse(listCollectionsEntry));
        if (reason is null)
        {
            Assert.Null(skip);
        }
        else
        {
            Assert.Contains(reason, skip);
        }
    }
}

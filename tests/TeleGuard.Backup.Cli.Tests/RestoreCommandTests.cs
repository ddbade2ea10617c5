using System.IO.Compression;
using System.Text.RegularExpressions;
using MongoDB.Bson;
using MongoDB.Driver;
using MongoDB.Driver.GridFS;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Cli.Tests;

/// <summary>Backup then restore with the real program, compared with the driver (not through the project's own export).</summary>
public sealed partial class RestoreCommandTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);
    private readonly TemporaryDirectory _work = new();

    public void Dispose() => _work.Dispose();

    [GeneratedRegex(@"Requested snapshot (\d{8}T\d{6}Z)")]
    private static partial Regex SnapshotIdPattern();

    private async Task<(Dictionary<string, string?> Environment, IMongoDatabase Source, string Id)> BackUpAsync()
    {
        var (uri, source) = await RestoreSourceData.CreateAsync();
        var environment = new Dictionary<string, string?>
        {
            ["MONGODB_URI"] = uri,
            ["REDIS_URL"] = await TestServices.RedisUrlAsync(),
            ["REDIS_KEY_PREFIX"] = TestServices.UniqueName("test"),
            ["SNAPSHOT_DIR"] = _work.Path,
            ["LOG_FORMAT"] = "text",
        };
        var (exitCode, output) = await CliProcess.RunAsync(environment, Timeout, "snapshot");
        Assert.True(exitCode == 0, output);
        return (environment, source, SnapshotIdPattern().Match(output).Groups[1].Value);
    }

    [Fact]
    public async Task A_snapshot_restored_from_the_store_into_an_empty_database_equals_the_source_document_for_document_with_its_indexes()
    {
        var (environment, source, id) = await BackUpAsync();
        var targetUri = await TestServices.MongoUriAsync();
        var target = new MongoClient(targetUri).GetDatabase(MongoUrl.Create(targetUri).DatabaseName);
        var collections = string.Join(',', RestoreSourceData.Collections);

        var verify = await CliProcess.RunAsync(environment, Timeout, "verify", "--from", "store", "--snapshot", id);
        Assert.True(verify.ExitCode == 0, verify.Output);

        var dryRun = await CliProcess.RunAsync(environment, Timeout, "restore", "--from", "store", "--to-uri", targetUri, "--collections", collections, "--dry-run");
        Assert.True(dryRun.ExitCode == 0, dryRun.Output);
        Assert.Empty(await (await target.ListCollectionNamesAsync()).ToListAsync());

        var restore = await CliProcess.RunAsync(environment, Timeout, "restore", "--from", "store", "--snapshot", id, "--to-uri", targetUri, "--collections", collections);
        Assert.True(restore.ExitCode == 0, restore.Output);
        Assert.Contains("read back identical to the snapshot", restore.Output);
        await RestoreSourceData.AssertSameAsync(source, target);

        // Into a database that now holds the data: refused without --drop, and nothing changes; with --drop it is replaced.
        await target.GetCollection<BsonDocument>("users").InsertOneAsync(new BsonDocument("_id", -1));
        var refused = await CliProcess.RunAsync(environment, Timeout, "restore", "--from", "store", "--to-uri", targetUri, "--collections", collections);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("Refusing to restore into non-empty collections", refused.Output);
        Assert.Equal(501, await target.GetCollection<BsonDocument>("users").CountDocumentsAsync(FilterDefinition<BsonDocument>.Empty));
        var replaced = await CliProcess.RunAsync(environment, Timeout, "restore", "--from", "store", "--to-uri", targetUri, "--collections", collections, "--drop");
        Assert.True(replaced.ExitCode == 0, replaced.Output);
        await RestoreSourceData.AssertSameAsync(source, target);
    }

    [Fact]
    public async Task A_corrupted_part_makes_verify_and_restore_fail_before_writing_anything_naming_the_snapshot_and_the_part()
    {
        var (environment, source, id) = await BackUpAsync();
        // Flip one byte of the users collection's JSON inside the stored artifact (a gzip-compressed tar in GridFS, in the
        // database artifacts go to by default) and store it again, compressed, under the same file id.
        var artifacts = new GridFSBucket(source.Client.GetDatabase(source.DatabaseNamespace.DatabaseName + "_backup"),
            new GridFSBucketOptions { BucketName = "teleguard_artifacts" });
        var file = await (await artifacts.FindAsync(FilterDefinition<GridFSFileInfo>.Empty)).SingleAsync();
        var tar = new MemoryStream();
        await using (var gunzip = new GZipStream(new MemoryStream(await artifacts.DownloadAsBytesAsync(file.Id)), CompressionMode.Decompress))
        {
            await gunzip.CopyToAsync(tar);
        }

        var bytes = tar.ToArray();
        bytes[bytes.AsSpan().IndexOf("u250@example.org"u8)] ^= 0x20;
        var damaged = new MemoryStream();
        await using (var gzip = new GZipStream(damaged, CompressionLevel.Optimal, leaveOpen: true))
        {
            await gzip.WriteAsync(bytes);
        }

        await artifacts.DeleteAsync(file.Id);
        await artifacts.UploadFromBytesAsync(file.Id, file.Filename, damaged.ToArray());

        var verify = await CliProcess.RunAsync(environment, Timeout, "verify", "--from", "store", "--snapshot", id);
        Assert.Equal(1, verify.ExitCode);
        Assert.Contains(id, verify.Output);
        Assert.Contains("collections/users/part-0001.jsonl", verify.Output);

        var targetUri = await TestServices.MongoUriAsync();
        var restore = await CliProcess.RunAsync(environment, Timeout, "restore", "--from", "store", "--snapshot", id, "--to-uri", targetUri);
        Assert.Equal(1, restore.ExitCode);
        Assert.Contains("collections/users/part-0001.jsonl", restore.Output);
        var target = new MongoClient(targetUri).GetDatabase(MongoUrl.Create(targetUri).DatabaseName);
        Assert.Empty(await (await target.ListCollectionNamesAsync()).ToListAsync());
    }

    [Fact]
    public async Task Backups_meta_is_restored_only_when_named()
    {
        var (environment, _, id) = await BackUpAsync();
        var targetUri = await TestServices.MongoUriAsync();
        var target = new MongoClient(targetUri).GetDatabase(MongoUrl.Create(targetUri).DatabaseName);

        var everything = await CliProcess.RunAsync(environment, Timeout, "restore", "--from", "store", "--snapshot", id, "--to-uri", targetUri);
        Assert.True(everything.ExitCode == 0, everything.Output);
        Assert.Contains("backups_meta is not restored over the live records", everything.Output);
        var names = await (await target.ListCollectionNamesAsync()).ToListAsync();
        Assert.Contains("users", names);
        Assert.DoesNotContain("backups_meta", names);

        var named = await CliProcess.RunAsync(environment, Timeout, "restore", "--from", "store", "--snapshot", id, "--to-uri", targetUri, "--collections", "backups_meta");
        Assert.True(named.ExitCode == 0, named.Output);
        Assert.True(await target.GetCollection<BsonDocument>("backups_meta").CountDocumentsAsync(FilterDefinition<BsonDocument>.Empty) > 0);
    }

    [Fact]
    public async Task A_time_series_collection_is_backed_up_and_restored_as_a_time_series_collection()
    {
        TestServices.SkipOnMongoStandIn("the stand-in has no time-series collections (it lists them as plain collections)");
        var uri = await TestServices.MongoUriAsync();
        var source = new MongoClient(uri).GetDatabase(MongoUrl.Create(uri).DatabaseName);
        await source.CreateCollectionAsync("readings", new CreateCollectionOptions
        {
            TimeSeriesOptions = new TimeSeriesOptions("at", "sensor", TimeSeriesGranularity.Minutes),
        });
        var start = new DateTime(2026, 11, 30, 0, 0, 0, DateTimeKind.Utc);
        await source.GetCollection<BsonDocument>("readings").InsertManyAsync(Enumerable.Range(0, 300).Select(i => new BsonDocument
        {
            { "at", start.AddMinutes(i) }, { "sensor", i % 3 }, { "value", i * 0.5 },
        }));
        var environment = new Dictionary<string, string?>
        {
            ["MONGODB_URI"] = uri,
            ["REDIS_URL"] = await TestServices.RedisUrlAsync(),
            ["REDIS_KEY_PREFIX"] = TestServices.UniqueName("test"),
            ["SNAPSHOT_DIR"] = _work.Path,
        };
        var snapshot = await CliProcess.RunAsync(environment, Timeout, "snapshot");
        Assert.True(snapshot.ExitCode == 0, snapshot.Output);
        var id = SnapshotIdPattern().Match(snapshot.Output).Groups[1].Value;

        var targetUri = await TestServices.MongoUriAsync();
        var restore = await CliProcess.RunAsync(environment, Timeout, "restore", "--from", "store", "--snapshot", id, "--to-uri", targetUri, "--collections", "readings");
        Assert.True(restore.ExitCode == 0, restore.Output);
        var target = new MongoClient(targetUri).GetDatabase(MongoUrl.Create(targetUri).DatabaseName);
        var info = await (await target.ListCollectionsAsync(new ListCollectionsOptions { Filter = new BsonDocument("name", "readings") })).SingleAsync();
        Assert.Equal("timeseries", info["type"].AsString);
        Assert.Equal("at", info["options"]["timeseries"]["timeField"].AsString);
        var expected = await source.GetCollection<BsonDocument>("readings").Find(FilterDefinition<BsonDocument>.Empty).Sort(new BsonDocument("_id", 1)).ToListAsync();
        var actual = await target.GetCollection<BsonDocument>("readings").Find(FilterDefinition<BsonDocument>.Empty).Sort(new BsonDocument("_id", 1)).ToListAsync();
        Assert.Equal(expected.Select(d => new BsonDocument(d.OrderBy(e => e.Name))), actual.Select(d => new BsonDocument(d.OrderBy(e => e.Name))));
    }
}

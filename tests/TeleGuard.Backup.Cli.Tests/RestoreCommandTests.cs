using System.Text.RegularExpressions;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Cli.Tests;

/// <summary>Backup then restore with the real program, compared with the driver (not through the project's own export).</summary>
public sealed partial class RestoreCommandTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);
    private static readonly string[] Restored = ["dotted.name", "empty", "everything", "users"];
    private readonly TemporaryDirectory _work = new();

    public void Dispose() => _work.Dispose();

    [GeneratedRegex(@"Requested snapshot (\d{8}T\d{6}Z)")]
    private static partial Regex SnapshotIdPattern();

    private async Task<(Dictionary<string, string?> Environment, IMongoDatabase Source, string Id)> BackUpAsync()
    {
        var uri = await TestServices.MongoUriAsync();
        var source = new MongoClient(uri).GetDatabase(MongoUrl.Create(uri).DatabaseName);
        await source.GetCollection<BsonDocument>("everything").InsertManyAsync(BsonTestData.EveryType());
        var users = source.GetCollection<BsonDocument>("users");
        await users.InsertManyAsync(Enumerable.Range(0, 500).Select(i => new BsonDocument
        {
            { "_id", i }, { "email", $"u{i}@example.org" }, { "tenant", i % 5 }, { "active", i % 2 == 0 },
            { "seenAt", new BsonDateTime(new DateTime(2100, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddMinutes(i)) },
        }));
        await users.Indexes.CreateManyAsync(
        [
            new CreateIndexModel<BsonDocument>(new BsonDocument("email", 1), new CreateIndexOptions { Unique = true, Name = "email_unique" }),
            new CreateIndexModel<BsonDocument>(new BsonDocument { { "tenant", 1 }, { "email", -1 } }, new CreateIndexOptions { Name = "tenant_email" }),
            new CreateIndexModel<BsonDocument>(new BsonDocument("seenAt", 1), new CreateIndexOptions { ExpireAfter = TimeSpan.FromDays(7), Name = "seen_ttl" }),
            new CreateIndexModel<BsonDocument>(new BsonDocument("tenant", 1), new CreateIndexOptions<BsonDocument>
            {
                Name = "active_tenant", PartialFilterExpression = new BsonDocument("active", true),
            }),
        ]);
        await source.CreateCollectionAsync("empty");
        await source.GetCollection<BsonDocument>("dotted.name").InsertOneAsync(new BsonDocument("_id", "x"));

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

    private static async Task AssertSameAsync(IMongoDatabase source, IMongoDatabase target)
    {
        foreach (var name in Restored)
        {
            var expected = await source.GetCollection<RawBsonDocument>(name).Find(FilterDefinition<RawBsonDocument>.Empty).Sort(new BsonDocument("_id", 1)).ToListAsync();
            var actual = await target.GetCollection<RawBsonDocument>(name).Find(FilterDefinition<RawBsonDocument>.Empty).Sort(new BsonDocument("_id", 1)).ToListAsync();
            Assert.Equal(expected.Count, actual.Count);
            for (var i = 0; i < expected.Count; i++)
            {
                Assert.Equal(Bytes(expected[i]), Bytes(actual[i])); // byte for byte: types, field order, -0.0
            }

            var expectedIndexes = await (await source.GetCollection<BsonDocument>(name).Indexes.ListAsync()).ToListAsync();
            var actualIndexes = await (await target.GetCollection<BsonDocument>(name).Indexes.ListAsync()).ToListAsync();
            Assert.Equal(expectedIndexes.Select(Comparable).OrderBy(i => i), actualIndexes.Select(Comparable).OrderBy(i => i));
        }
    }

    private static byte[] Bytes(RawBsonDocument document)
    {
        var bytes = new byte[document.Slice.Length];
        document.Slice.GetBytes(0, bytes, 0, bytes.Length);
        return bytes;
    }

    private static string Comparable(BsonDocument index) => new BsonDocument(index.Where(e => e.Name is not ("v" or "ns"))).ToJson();

    [Fact]
    public async Task A_snapshot_restored_from_the_store_into_an_empty_database_equals_the_source_document_for_document_with_its_indexes()
    {
        var (environment, source, id) = await BackUpAsync();
        var targetUri = await TestServices.MongoUriAsync();
        var target = new MongoClient(targetUri).GetDatabase(MongoUrl.Create(targetUri).DatabaseName);
        var collections = string.Join(',', Restored);

        var verify = await CliProcess.RunAsync(environment, Timeout, "verify", "--from", "store", "--snapshot", id);
        Assert.True(verify.ExitCode == 0, verify.Output);

        var dryRun = await CliProcess.RunAsync(environment, Timeout, "restore", "--from", "store", "--to-uri", targetUri, "--collections", collections, "--dry-run");
        Assert.True(dryRun.ExitCode == 0, dryRun.Output);
        Assert.Empty(await (await target.ListCollectionNamesAsync()).ToListAsync());

        var restore = await CliProcess.RunAsync(environment, Timeout, "restore", "--from", "store", "--snapshot", id, "--to-uri", targetUri, "--collections", collections);
        Assert.True(restore.ExitCode == 0, restore.Output);
        Assert.Contains("content hash matches", restore.Output);
        await AssertSameAsync(source, target);

        // Into a database that now holds the data: refused without --drop, and nothing changes; with --drop it is replaced.
        await target.GetCollection<BsonDocument>("users").InsertOneAsync(new BsonDocument("_id", -1));
        var refused = await CliProcess.RunAsync(environment, Timeout, "restore", "--from", "store", "--to-uri", targetUri, "--collections", collections);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("Refusing to restore into non-empty collections", refused.Output);
        Assert.Equal(501, await target.GetCollection<BsonDocument>("users").CountDocumentsAsync(FilterDefinition<BsonDocument>.Empty));
        var replaced = await CliProcess.RunAsync(environment, Timeout, "restore", "--from", "store", "--to-uri", targetUri, "--collections", collections, "--drop");
        Assert.True(replaced.ExitCode == 0, replaced.Output);
        await AssertSameAsync(source, target);
    }

    [Fact]
    public async Task A_corrupted_part_makes_verify_and_restore_fail_before_writing_anything_naming_the_snapshot_and_the_part()
    {
        var (environment, source, id) = await BackUpAsync();
        // Flip one byte of the stored artifact inside the users collection's JSON (GridFS chunks are plain BSON binaries).
        var chunks = source.GetCollection<BsonDocument>("teleguard_artifacts.chunks");
        var chunk = await chunks.Find(FilterDefinition<BsonDocument>.Empty).Sort(new BsonDocument("n", 1)).ToListAsync();
        var (document, data, offset) = chunk.Select(c => (c, c["data"].AsBsonBinaryData.Bytes))
            .Select(t => (t.c, t.Bytes, Offset: t.Bytes.AsSpan().IndexOf("u250@example.org"u8)))
            .First(t => t.Offset >= 0);
        data[offset] ^= 0x20;
        await chunks.ReplaceOneAsync(new BsonDocument("_id", document["_id"]), document.Set("data", new BsonBinaryData(data)));

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
}

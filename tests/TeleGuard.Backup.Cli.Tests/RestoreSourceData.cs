using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Cli.Tests;

/// <summary>A source database with every BSON type and every index kind a restore must rebuild, and the driver-side comparison.</summary>
public static class RestoreSourceData
{
    public static readonly string[] Collections = ["dotted.name", "empty", "everything", "lookalikes", "users"];

    public static async Task<(string Uri, IMongoDatabase Database)> CreateAsync()
    {
        var uri = await TestServices.MongoUriAsync();
        var source = new MongoClient(uri).GetDatabase(MongoUrl.Create(uri).DatabaseName);
        await source.GetCollection<BsonDocument>("everything").InsertManyAsync(BsonTestData.EveryType());
        // As raw bytes: documents whose fields look like type wrappers, NaN payloads, binary subtype 2 (the driver would rewrite it).
        await source.GetCollection<RawBsonDocument>("lookalikes").InsertManyAsync(BsonTestData.Lookalikes().Select(d => new RawBsonDocument(BsonTestData.ToStoredBson(d))));
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

        return (uri, source);
    }

    public static async Task AssertSameAsync(IMongoDatabase source, IMongoDatabase target)
    {
        foreach (var name in Collections)
        {
            var expected = await source.GetCollection<RawBsonDocument>(name).Find(FilterDefinition<RawBsonDocument>.Empty).Sort(new BsonDocument("_id", 1)).ToListAsync();
            var actual = await target.GetCollection<RawBsonDocument>(name).Find(FilterDefinition<RawBsonDocument>.Empty).Sort(new BsonDocument("_id", 1)).ToListAsync();
            Assert.Equal(expected.Count, actual.Count);
            for (var i = 0; i < expected.Count; i++)
            {
                Assert.Equal(BsonTestData.Bytes(expected[i]), BsonTestData.Bytes(actual[i])); // byte for byte: types, field order, -0.0
            }

            var expectedIndexes = await (await source.GetCollection<BsonDocument>(name).Indexes.ListAsync()).ToListAsync();
            var actualIndexes = await (await target.GetCollection<BsonDocument>(name).Indexes.ListAsync()).ToListAsync();
            Assert.Equal(expectedIndexes.Select(Comparable).OrderBy(i => i), actualIndexes.Select(Comparable).OrderBy(i => i));
        }
    }

    private static string Comparable(BsonDocument index) => new BsonDocument(index.Where(e => e.Name is not ("v" or "ns"))).ToJson();

}

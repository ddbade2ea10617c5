using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Snapshot.Tests;

/// <summary>A fresh database on the test server, filled with every BSON type, indexes and an ordinary collection.</summary>
public sealed class SourceDatabase
{
    public required string Uri { get; init; }
    public required IMongoClient Client { get; init; }
    public required IMongoDatabase Database { get; init; }

    public static async Task<SourceDatabase> CreateAsync(bool replicaSet, int users = 2500)
    {
        var uri = replicaSet ? await TestServices.MongoReplicaSetUriAsync() : await TestServices.MongoUriAsync();
        var client = new MongoClient(uri);
        var database = client.GetDatabase(MongoUrl.Create(uri).DatabaseName);

        await database.GetCollection<BsonDocument>("everything").InsertManyAsync(BsonTestData.EveryType());

        var people = database.GetCollection<BsonDocument>("users");
        // Inserted out of order: the export must still be ordered by _id.
        await people.InsertManyAsync(Enumerable.Range(0, users).Reverse().Select(i => new BsonDocument
        {
            { "_id", i },
            { "email", $"user{i}@example.org" },
            { "tenant", i % 7 },
            { "seenAt", new BsonDateTime(new DateTime(2100, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddHours(i)) }, // future: the TTL index must not expire them
            { "active", i % 3 == 0 },
        }));
        await people.Indexes.CreateManyAsync(
        [
            new CreateIndexModel<BsonDocument>(new BsonDocument("email", 1), new CreateIndexOptions { Unique = true, Name = "email_unique" }),
            new CreateIndexModel<BsonDocument>(new BsonDocument { { "tenant", 1 }, { "email", -1 } }, new CreateIndexOptions { Name = "tenant_email" }),
            new CreateIndexModel<BsonDocument>(new BsonDocument("seenAt", 1), new CreateIndexOptions { ExpireAfter = TimeSpan.FromDays(30), Name = "seen_ttl" }),
            new CreateIndexModel<BsonDocument>(new BsonDocument("tenant", 1), new CreateIndexOptions<BsonDocument>
            {
                Name = "active_tenant",
                PartialFilterExpression = new BsonDocument("active", true),
            }),
        ]);

        await database.CreateCollectionAsync("empty");
        await database.GetCollection<BsonDocument>("dotted.name").InsertOneAsync(new BsonDocument("_id", 1));
        return new SourceDatabase { Uri = uri, Client = client, Database = database };
    }

    /// <summary>The collection's documents as the server returns them in _id order, as BSON bytes.</summary>
    public async Task<List<byte[]>> ReadOrderedAsync(string collection)
    {
        var documents = await Database.GetCollection<RawBsonDocument>(collection).Find(FilterDefinition<RawBsonDocument>.Empty)
            .Sort(new BsonDocument("_id", 1)).ToListAsync();
        return documents.Select(BsonTestData.Bytes).ToList();
    }
}

using Microsoft.Extensions.Time.Testing;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Storage.Tests;

/// <summary>
/// A destination's location and removal are its own types, but backups_meta holds them as plain documents: exactly the
/// destination's elements (no type discriminator), and elements a newer version added survive an older version's rewrite.
/// </summary>
public sealed class SinkDocumentTests
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 26, 4, 0, 0, TimeSpan.Zero));

    private async Task<(BackupsMetaStore Store, IMongoCollection<BsonDocument> Raw, string Id)> CreateAsync()
    {
        var uri = await TestServices.MongoUriAsync();
        var database = new MongoClient(uri).GetDatabase(MongoUrl.Create(uri).DatabaseName);
        var store = new BackupsMetaStore(database, _time, [BackupSinks.GitHub]);
        var id = SnapshotFormat.SnapshotIds.FromTime(_time.GetUtcNow());
        await store.RecordRequestedAsync(id, _time.GetUtcNow(), "schedule", None);
        return (store, database.GetCollection<BsonDocument>(BackupsMetaStore.CollectionName), id);
    }

    private static async Task<BsonDocument> SinkAsync(IMongoCollection<BsonDocument> raw, string id) =>
        (await raw.Find(new BsonDocument("_id", id)).SingleAsync(None))["sinks"][BackupSinks.GitHub].AsBsonDocument;

    [Fact]
    public async Task A_location_and_a_removal_are_stored_as_their_elements_only_and_read_back_as_their_type()
    {
        var (store, raw, id) = await CreateAsync();
        Assert.Equal(SinkClaim.Acquired, await store.TryClaimSinkAsync(id, BackupSinks.GitHub, "a", Lease, None));
        await store.RecordSinkOutcomeAsync(id, BackupSinks.GitHub, SinkStatus.Succeeded, null, new ExampleLocation { Commit = "abc", Parts = [1, 2] }, None);
        await store.RecordSinkRemovalAsync(id, BackupSinks.GitHub, new ExampleRemoval { DeletedMessageIds = [1, 2] }, None);

        var stored = await SinkAsync(raw, id);
        StoredShape.AssertSame(new BsonDocument { { "commit", "abc" }, { "parts", new BsonArray { 1, 2 } } }, stored["location"].AsBsonDocument);
        StoredShape.AssertSame(new BsonDocument("deletedMessageIds", new BsonArray { 1, 2 }), stored["removal"].AsBsonDocument);

        var copy = (await store.GetAsync(id, None))!.Sinks[BackupSinks.GitHub];
        var location = copy.LocationAs<ExampleLocation>()!;
        Assert.Equal("abc", location.Commit);
        Assert.Equal([1, 2], location.Parts!);
        Assert.Null(location.OtherElements);
        Assert.Equal([1, 2], copy.RemovalAs<ExampleRemoval>()!.DeletedMessageIds);
    }

    [Fact]
    public async Task Elements_a_newer_version_added_are_read_past_and_kept_when_an_older_version_writes_the_location_again()
    {
        var (store, raw, id) = await CreateAsync();
        var newer = new BsonDocument
        {
            { "commit", "abc" }, { "parts", new BsonArray { 1 } },
            { "signedBy", "key-2" }, { "mirrors", new BsonArray { new BsonDocument("url", "https://mirror.example/x") } },
        };
        await raw.UpdateOneAsync(new BsonDocument("_id", id), new BsonDocument("$set", new BsonDocument($"sinks.{BackupSinks.GitHub}.location", newer)));

        var location = (await store.GetAsync(id, None))!.Sinks[BackupSinks.GitHub].LocationAs<ExampleLocation>()!;
        Assert.Equal("abc", location.Commit);
        Assert.Equal([1], location.Parts!);

        location.Commit = "def"; // as when a rewrite of the branch moves the copy to another commit
        await store.UpdateSinkLocationAsync(id, BackupSinks.GitHub, location, None);
        newer["commit"] = "def";
        StoredShape.AssertSameElements(newer, (await SinkAsync(raw, id))["location"].AsBsonDocument);
    }

    [Fact]
    public void A_location_of_another_shape_is_refused_as_unreadable_not_read_as_something_else()
    {
        var copy = new SinkRecord { LocationDocument = new BsonDocument("commit", 42) };
        Assert.Throws<FormatException>(() => copy.LocationAs<ExampleLocation>());
        Assert.Null(new SinkRecord().LocationAs<ExampleLocation>());
    }
}

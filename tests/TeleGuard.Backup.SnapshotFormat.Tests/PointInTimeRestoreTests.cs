using Microsoft.Extensions.Logging.Abstractions;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.SnapshotFormat.Tests;

/// <summary>
/// A restore to a time: a snapshot of a replica set, the change events after it recorded from the server's own change
/// stream, replayed into the staged collections. The result is compared, byte for byte, with what the database held at
/// that time; a broken or hostile history never touches the target.
/// </summary>
public sealed class PointInTimeRestoreTests : IDisposable
{
    private readonly TemporaryDirectory _work = new();

    public void Dispose() => _work.Dispose();

    private sealed record Source(MongoClient Client, IMongoDatabase Database, string Folder, SnapshotManifest Snapshot, RecordedHistory History) : IDisposable
    {
        public ClusterTimestamp SnapshotTime => Snapshot.Consistency.ClusterTime!;

        public IMongoCollection<BsonDocument> Collection(string name) => Database.GetCollection<BsonDocument>(name);

        public void Dispose() => History.Dispose();
    }

    private async Task<Source> SnapshotAsync()
    {
        var client = new MongoClient(await TestServices.MongoReplicaSetUriAsync());
        var database = client.GetDatabase(TestServices.UniqueName("source"));
        await database.GetCollection<BsonDocument>("users").InsertManyAsync(Enumerable.Range(1, 10).Select(i => new BsonDocument
        {
            { "_id", i }, { "name", $"user {i}" }, { "nick", $"u{i}" }, { "tags", new BsonArray { "a", "b", "c", "d" } },
            { "profile", new BsonDocument { { "city", "Berlin" }, { "langs", new BsonArray { "de", "en" } } } }, { "counter", 0 },
        }));
        await database.GetCollection<BsonDocument>("other").InsertManyAsync([new BsonDocument("_id", "o1"), new BsonDocument("_id", "o2")]);
        await database.GetCollection<BsonDocument>("doomed").InsertOneAsync(new BsonDocument { { "_id", 1 }, { "x", 1 } });
        var folder = Path.Combine(_work.Path, "snapshot");
        var snapshot = await new SnapshotExporter(client, database.DatabaseNamespace.DatabaseName, NullLogger<SnapshotExporter>.Instance)
            .ExportAsync("20261130T120000Z", folder, new SnapshotExportOptions(), CancellationToken.None);
        Assert.Equal(SnapshotConsistency.Snapshot, snapshot.Consistency.Mode);
        var history = await RecordedHistory.StartAsync(database, snapshot.Consistency.ClusterTime!);
        return new Source(client, database, folder, snapshot, history);
    }

    // Inserts, updates ($unset, nested fields, array element, $push, $pop, truncation), a replace and a delete.
    private static async Task WriteDocumentChangesAsync(Source source)
    {
        var users = source.Collection("users");
        var session = source.History.Session;
        await users.InsertOneAsync(session, new BsonDocument { { "_id", 100 }, { "name", "new" }, { "tags", new BsonArray { "x" } }, { "profile", new BsonDocument("city", "Oslo") } });
        await users.UpdateOneAsync(session, Id(1), new BsonDocument { { "$unset", new BsonDocument("nick", "") }, { "$set", new BsonDocument { { "profile.city", "Paris" }, { "profile.zip", "75001" } } } });
        await users.UpdateOneAsync(session, Id(2), new BsonDocument("$push", new BsonDocument("tags", "e")));
        await users.UpdateOneAsync(session, Id(3), new BsonDocument("$pop", new BsonDocument("tags", 1)));
        await users.UpdateOneAsync(session, Id(4), new BsonDocument("$set", new BsonDocument("tags.0", "first")));
        await users.UpdateOneAsync(session, Id(5), new BsonDocument("$push", new BsonDocument("tags", new BsonDocument { { "$each", new BsonArray() }, { "$slice", 1 } })));
        await users.UpdateOneAsync(session, Id(6), new BsonDocument("$set", new BsonDocument("deep.a.b", new BsonDocument("c", 1.5))));
        await users.UpdateOneAsync(session, Id(6), new BsonDocument("$pop", new BsonDocument("profile.langs", -1)));
        await users.ReplaceOneAsync(session, Id(7), new BsonDocument { { "_id", 7 }, { "replaced", true }, { "at", new BsonDateTime(new DateTime(2026, 11, 30, 0, 0, 0, DateTimeKind.Utc)) } });
        await users.DeleteOneAsync(session, Id(8));
        await users.UpdateOneAsync(session, Id(9), new BsonDocument("$inc", new BsonDocument("counter", 5L)));
    }

    // A collection created with an index and documents, one created implicitly, a rename, a drop, and more updates.
    private static async Task WriteCollectionChangesAsync(Source source)
    {
        var session = source.History.Session;
        await source.Database.CreateCollectionAsync(session, "created");
        await source.Collection("created").InsertManyAsync(session, [new BsonDocument { { "_id", 1 }, { "name", "c1" } }, new BsonDocument { { "_id", 2 }, { "name", "c2" } }]);
        await source.Collection("created").Indexes.CreateOneAsync(session, new CreateIndexModel<BsonDocument>(new BsonDocument("name", 1), new CreateIndexOptions { Name = "name_1" }));
        await source.Collection("implicit").InsertOneAsync(session, new BsonDocument { { "_id", "i" }, { "v", new BsonArray { 1, 2 } } });
        await source.Database.RenameCollectionAsync(session, "other", "renamed");
        await source.Collection("renamed").InsertOneAsync(session, new BsonDocument("_id", "o3"));
        await source.Database.DropCollectionAsync(session, "doomed");
        await source.Collection("users").UpdateOneAsync(session, Id(100), new BsonDocument("$set", new BsonDocument("name", "newer")));
        await source.Collection("users").DeleteOneAsync(session, Id(1));
    }

    private static BsonDocument Id(int id) => new("_id", id);

    private static Task<PointInTimeRestoreResult> RestoreAsync(Source source, IEnumerable<ExtractedIncrement> increments, ClusterTimestamp target,
        IMongoDatabase into, RestoreOptions? options = null) =>
        new SnapshotRestorer(NullLogger.Instance).RestoreToTimeAsync(source.Folder, source.Snapshot, new PointInTime(target, increments.ToList()),
            source.Client, into.DatabaseNamespace.DatabaseName, options ?? new RestoreOptions { Drop = true }, null, CancellationToken.None);

    private static long EventsBetween(Source source, ClusterTimestamp after, ClusterTimestamp upTo) =>
        source.History.Events.Count(e => IncrementManifest.Compare(ChangeEventLine.ClusterTime(e), after) > 0 && IncrementManifest.Compare(ChangeEventLine.ClusterTime(e), upTo) <= 0);

    [Fact]
    public async Task A_restore_to_a_time_holds_exactly_the_bytes_the_database_held_then()
    {
        using var source = await SnapshotAsync();
        await WriteDocumentChangesAsync(source);
        var afterDocuments = source.History.Now;
        var expectedThen = await RecordedHistory.ContentAsync(source.Database);
        await WriteCollectionChangesAsync(source);
        var afterCollections = source.History.Now;
        var expectedLater = await RecordedHistory.ContentAsync(source.Database);
        var expectedIndexes = await IndexNamesAsync(source.Database, "created");
        await source.History.CatchUpAsync(afterCollections);
        // Three increments: the first ends in the middle of the document changes, the last after everything.
        var middle = ChangeEventLine.ClusterTime(source.History.Events[4]);
        var increments = await source.History.WriteIncrementsAsync(Path.Combine(_work.Path, "increments"), source.Database.DatabaseNamespace.DatabaseName,
            "20261130T110000Z", source.SnapshotTime, middle, afterDocuments, afterCollections);

        var then = source.Client.GetDatabase(TestServices.UniqueName("then"));
        var restoredThen = await RestoreAsync(source, increments, afterDocuments, then);
        Assert.Equal(expectedThen, await RecordedHistory.ContentAsync(then));
        Assert.Equal(EventsBetween(source, source.SnapshotTime, afterDocuments), restoredThen.Replay!.Applied);
        Assert.True(restoredThen.Replay.Applied >= 11, $"{restoredThen.Replay.Applied} events applied");

        // Into a database holding collections of the names the history drops and renames away: they are removed.
        var later = source.Client.GetDatabase(TestServices.UniqueName("later"));
        await later.GetCollection<BsonDocument>("doomed").InsertOneAsync(new BsonDocument("_id", "target's own"));
        await later.GetCollection<BsonDocument>("other").InsertOneAsync(new BsonDocument("_id", "target's own"));
        var restoredLater = await RestoreAsync(source, increments, afterCollections, later);
        Assert.Equal(expectedLater, await RecordedHistory.ContentAsync(later));
        Assert.Equal(expectedIndexes, await IndexNamesAsync(later, "created"));
        Assert.Equal(["doomed", "other"], restoredLater.Removed.Order(StringComparer.Ordinal));
        Assert.Equal(EventsBetween(source, source.SnapshotTime, afterCollections), restoredLater.Replay!.Applied);
    }

    [Fact]
    public async Task A_collection_the_history_drops_is_not_removed_from_the_target_without_drop()
    {
        using var source = await SnapshotAsync();
        await WriteCollectionChangesAsync(source);
        var end = source.History.Now;
        await source.History.CatchUpAsync(end);
        var increments = await source.History.WriteIncrementsAsync(Path.Combine(_work.Path, "increments"), source.Database.DatabaseNamespace.DatabaseName,
            "20261130T110000Z", source.SnapshotTime, end);
        var target = source.Client.GetDatabase(TestServices.UniqueName("target"));
        await target.GetCollection<BsonDocument>("doomed").InsertOneAsync(new BsonDocument("_id", "target's own"));
        var before = await RecordedHistory.ContentAsync(target);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => RestoreAsync(source, increments, end, target, new RestoreOptions()));

        Assert.Contains("Refusing to restore into non-empty collections", error.Message);
        Assert.Contains("doomed", error.Message);
        Assert.Equal(before, await RecordedHistory.ContentAsync(target));
    }

    public static TheoryData<string> BrokenHistories => ["events changed", "increment missing", "not following", "gap between", "other database", "other chain"];

    [Theory]
    [MemberData(nameof(BrokenHistories))]
    public async Task A_broken_or_tampered_history_is_refused_before_the_target_is_touched(string broken)
    {
        using var source = await SnapshotAsync();
        await WriteDocumentChangesAsync(source);
        var end = source.History.Now;
        await source.History.CatchUpAsync(end);
        var times = source.History.Events.Select(ChangeEventLine.ClusterTime).ToList();
        var increments = await source.History.WriteIncrementsAsync(Path.Combine(_work.Path, "increments"), source.Database.DatabaseNamespace.DatabaseName,
            "20261130T110000Z", source.SnapshotTime, times[2], times[5], end);
        var second = increments[1];
        string expected;
        switch (broken)
        {
            case "events changed":
                var bytes = await File.ReadAllBytesAsync(second.EventsFile);
                var at = bytes.AsSpan().IndexOf("\"tags\""u8);
                bytes[at + 1] = (byte)'T'; // same length, still a valid line
                await File.WriteAllBytesAsync(second.EventsFile, bytes);
                expected = "does not match its manifest";
                break;
            case "increment missing":
                increments.RemoveAt(1);
                expected = "increment 20261130T110000Z-000002 is missing";
                break;
            case "not following":
                increments[1] = second with { Manifest = second.Manifest with { PreviousSha256 = new string('0', 64) } };
                expected = "does not follow 20261130T110000Z-000001";
                break;
            case "gap between":
                increments[1] = second with { Manifest = second.Manifest with { From = new ClusterTimestamp(second.Manifest.From.T, second.Manifest.From.I + 1) } };
                expected = "the previous one ends at";
                break;
            case "other database":
                increments[1] = second with { Manifest = second.Manifest with { Database = "elsewhere" } };
                expected = "records database elsewhere";
                break;
            default:
                increments[1] = second with { Manifest = second.Manifest with { Chain = "20261130T100000Z", IncrementId = IncrementManifest.IdOf("20261130T100000Z", 2) } };
                expected = "more than one chain";
                break;
        }

        var target = source.Client.GetDatabase(TestServices.UniqueName("target"));
        await target.GetCollection<BsonDocument>("users").InsertOneAsync(new BsonDocument { { "_id", 1 }, { "precious", true } });
        var before = await RecordedHistory.ContentAsync(target);

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => RestoreAsync(source, increments, end, target));

        Assert.Contains(expected, error.Message);
        Assert.Equal(before, await RecordedHistory.ContentAsync(target));
        Assert.DoesNotContain(await (await target.ListCollectionNamesAsync()).ToListAsync(), RestoreWorkCollections.IsWorkCollection);
    }

    [Fact]
    public async Task A_time_before_the_snapshot_or_after_the_history_is_refused_naming_the_window()
    {
        using var source = await SnapshotAsync();
        await WriteDocumentChangesAsync(source);
        var end = source.History.Now;
        await source.History.CatchUpAsync(end);
        var increments = await source.History.WriteIncrementsAsync(Path.Combine(_work.Path, "increments"), source.Database.DatabaseNamespace.DatabaseName,
            "20261130T110000Z", source.SnapshotTime, end);
        var target = source.Client.GetDatabase(TestServices.UniqueName("target"));

        var tooEarly = await Assert.ThrowsAsync<InvalidDataException>(() =>
            RestoreAsync(source, increments, ClusterTimestamps.EndOfSecond(ClusterTimestamps.ToUtc(source.SnapshotTime).AddSeconds(-1)), target));
        Assert.Contains($"is before snapshot {source.Snapshot.SnapshotId}", tooEarly.Message);

        var tooLate = await Assert.ThrowsAsync<InvalidDataException>(() =>
            RestoreAsync(source, increments, new ClusterTimestamp(end.T + 60, 0), target));
        Assert.Contains($"The history reaches only to {ClusterTimestamps.Describe(end)}", tooLate.Message);
        Assert.Empty(await (await target.ListCollectionNamesAsync()).ToListAsync());
    }

    [Fact]
    public async Task A_replayed_change_the_server_refuses_fails_the_restore_and_the_target_keeps_what_it_had()
    {
        using var source = await SnapshotAsync();
        await WriteDocumentChangesAsync(source);
        var end = source.History.Now;
        await source.History.CatchUpAsync(end);
        // A hostile event in the middle: truncating a field that is no array, which the server refuses.
        var events = source.History.Events.ToList();
        var hostileTime = ChangeEventLine.ClusterTime(events[5]);
        events.Insert(6, new BsonDocument
        {
            { "operationType", "update" }, { "clusterTime", ChangeEventLine.ToBsonTimestamp(hostileTime) },
            { "ns", new BsonDocument { { "db", source.Database.DatabaseNamespace.DatabaseName }, { "coll", "users" } } },
            { "documentKey", Id(2) },
            { "updateDescription", new BsonDocument { { "updatedFields", new BsonDocument() }, { "removedFields", new BsonArray() },
                { "truncatedArrays", new BsonArray { new BsonDocument { { "field", "name" }, { "newSize", 0 } } } } } },
        });
        var increments = await RecordedHistory.WriteIncrementsAsync(Path.Combine(_work.Path, "increments"), source.Database.DatabaseNamespace.DatabaseName,
            "20261130T110000Z", source.SnapshotTime, events, end);
        var target = source.Client.GetDatabase(TestServices.UniqueName("target"));
        await target.GetCollection<BsonDocument>("users").InsertOneAsync(new BsonDocument { { "_id", 1 }, { "precious", true } });
        await target.GetCollection<BsonDocument>("doomed").InsertOneAsync(new BsonDocument { { "_id", 1 }, { "precious", true } });
        var before = await RecordedHistory.ContentAsync(target);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => RestoreAsync(source, increments, end, target));

        Assert.Contains("The target refused a replayed change (from increment 20261130T110000Z-000001, event", error.Message);
        Assert.Equal(before, await RecordedHistory.ContentAsync(target));
        Assert.DoesNotContain(await (await target.ListCollectionNamesAsync()).ToListAsync(), RestoreWorkCollections.IsWorkCollection);
    }

    [Fact]
    public async Task With_collections_a_rename_out_of_the_set_removes_the_name_and_a_rename_into_it_is_refused()
    {
        using var source = await SnapshotAsync();
        await WriteCollectionChangesAsync(source);
        var end = source.History.Now;
        await source.History.CatchUpAsync(end);
        var increments = await source.History.WriteIncrementsAsync(Path.Combine(_work.Path, "increments"), source.Database.DatabaseNamespace.DatabaseName,
            "20261130T110000Z", source.SnapshotTime, end);

        var outOf = source.Client.GetDatabase(TestServices.UniqueName("target"));
        await outOf.GetCollection<BsonDocument>("other").InsertOneAsync(new BsonDocument("_id", "target's own"));
        var restored = await RestoreAsync(source, increments, end, outOf, new RestoreOptions { Drop = true, Collections = ["other", "users"] });
        Assert.Equal(["other"], restored.Removed);
        Assert.Equal(["users"], (await RecordedHistory.ContentAsync(outOf)).Keys);

        var into = source.Client.GetDatabase(TestServices.UniqueName("target"));
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => RestoreAsync(source, increments, end, into, new RestoreOptions { Drop = true, Collections = ["renamed"] }));
        Assert.Contains("other is renamed to renamed, and this restore leaves other out", error.Message);
        Assert.Empty(await (await into.ListCollectionNamesAsync()).ToListAsync());
    }

    private static async Task<List<string>> IndexNamesAsync(IMongoDatabase database, string collection) =>
        (await (await database.GetCollection<BsonDocument>(collection).Indexes.ListAsync()).ToListAsync()).Select(i => i["name"].AsString).Order(StringComparer.Ordinal).ToList();
}

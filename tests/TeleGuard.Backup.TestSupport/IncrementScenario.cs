using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;
using static TeleGuard.Backup.TestSupport.AnnouncedIncrements;

namespace TeleGuard.Backup.TestSupport;

/// <summary>
/// The history a destination's increment tests copy and restore: 20 users, the first snapshot, phase 1 of writes, the
/// second snapshot, then phases 2 and 3 in later seconds; recorded as three increments and stored as the change recorder
/// does, not yet announced. Increments 1 and 2 are filed under the first snapshot (2 ends after the second), 3 under the
/// second. <see cref="AtPhase1"/> and <see cref="AtPhase3"/> are what a restore to those times must give.
/// </summary>
public sealed record IncrementScenario(
    (string Id, ClusterTimestamp ClusterTime) First,
    (string Id, ClusterTimestamp ClusterTime) Second,
    ClusterTimestamp Phase1,
    ClusterTimestamp End,
    SortedDictionary<string, List<byte[]>> AtPhase1,
    SortedDictionary<string, List<byte[]>> AtPhase3,
    List<ExtractedIncrement> Written,
    List<IncrementCreated> Announced)
{
    /// <param name="database">The database the host backs up, on the replica set (the history is read from its change stream).</param>
    /// <param name="snapshotAsync">Takes the snapshot with the given id through the destination's pipeline, as that test checks it.</param>
    /// <param name="newUserName">The name of the user inserted in phase 1.</param>
    /// <param name="folder">Where the increments' files are written.</param>
    public static async Task<IncrementScenario> RecordAsync(IMongoDatabase database, Func<string, Task<(string Id, ClusterTimestamp ClusterTime)>> snapshotAsync,
        string newUserName, string folder, IArtifactStore store, IncrementsStore increments)
    {
        var users = database.GetCollection<BsonDocument>("users");
        await users.InsertManyAsync(Enumerable.Range(1, 20).Select(i => new BsonDocument
        {
            { "_id", i }, { "name", $"user {i}" }, { "tags", new BsonArray { "a", "b", "c" } }, { "profile", new BsonDocument("city", "Berlin") },
        }));
        var first = await snapshotAsync("20261130T050000Z");

        // Phase 1 after the first snapshot, the second snapshot, then phases 2 and 3 in later seconds.
        using var history = await RecordedHistory.StartAsync(database, first.ClusterTime);
        var session = history.Session;
        await users.UpdateOneAsync(session, new BsonDocument("_id", 1), new BsonDocument { { "$set", new BsonDocument("profile.city", "Paris") }, { "$unset", new BsonDocument("name", "") } });
        await users.InsertOneAsync(session, new BsonDocument { { "_id", 21 }, { "name", newUserName } });
        await users.DeleteOneAsync(session, new BsonDocument("_id", 3));
        var phase1 = history.Now;
        var atPhase1 = await BackedUpContentAsync(database);
        await NextSecondAsync(database.Client, phase1);
        var second = await snapshotAsync("20261130T060000Z");
        await NextSecondAsync(database.Client, second.ClusterTime);
        await users.UpdateOneAsync(session, new BsonDocument("_id", 2), new BsonDocument("$pop", new BsonDocument("tags", 1)));
        await database.GetCollection<BsonDocument>("fresh").InsertOneAsync(session, new BsonDocument { { "_id", 1 }, { "v", 1.5 } });
        var phase2 = history.Now;
        await NextSecondAsync(database.Client, phase2);
        await users.UpdateOneAsync(session, new BsonDocument("_id", 21), new BsonDocument("$push", new BsonDocument("tags", "z")));
        await users.DeleteOneAsync(session, new BsonDocument("_id", 4));
        var phase3 = history.Now;
        var atPhase3 = await BackedUpContentAsync(database);
        await history.CatchUpAsync(phase3);
        // The recorder closes where the stream has read to; after any quiet moment that is past the last write. (An
        // increment that closed right at its last event is restored by "latest" without that last cluster time.)
        var end = new ClusterTimestamp(phase3.T, phase3.I + 1);

        // Increment 1 (first, phase1] and 2 (phase1, phase2] start before the second snapshot: their base is the first;
        // increment 2 ends after the second snapshot, so a destination's clean-up must keep it. Increment 3's base is the second.
        var written = await history.WriteIncrementsAsync(folder, database.DatabaseNamespace.DatabaseName, first.Id, first.ClusterTime, phase1, phase2, end);
        written[2] = written[2] with { Manifest = written[2].Manifest with { BaseSnapshotId = second.Id } };
        var announced = await StoreAllAsync(store, increments, written);
        return new IncrementScenario(first, second, phase1, end, atPhase1, atPhase3, written, announced);
    }
}

using System.Globalization;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Recorder.Tests;

/// <summary>
/// A steady mixed workload while snapshots and increments run through RabbitMQ; the test keeps its own model of the
/// database with the cluster time of every write, and a restore to each of several times equals the model at that time,
/// byte for byte.
/// </summary>
[Collection(nameof(SharedChangeHistory))]
public sealed class PointInTimeWorkloadTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task Restores_to_six_times_from_four_destinations_the_store_the_private_branch_the_public_branch_and_Telegram_equal_the_database_at_those_times_byte_for_byte()
    {
        await using var deployment = await RecorderDeployment.CreateAsync(incrementSeconds: 5, withDestinations: true);
        var host = await deployment.StartHostAsync();
        var databaseName = deployment.Database.DatabaseNamespace.DatabaseName;
        await TestHosts.EventuallyAsync(() => deployment.Increments.FindLatestAsync(databaseName, CancellationToken.None), Patience, "the first increment");

        var workload = new Workload(deployment.Client, deployment.Database);
        // Three minutes of steady writes (the issue asks for several), with a second full snapshot in the middle:
        // restores after it start from it.
        await workload.RunAsync(TimeSpan.FromSeconds(80));
        var secondSnapshot = await RequestSnapshotAsync(deployment, host);
        await workload.RunAsync(TimeSpan.FromSeconds(100));
        var end = await workload.LastWriteTimeAsync();
        var covered = await deployment.WaitForCoverageAsync(new BsonTimestamp((int)end, int.MaxValue), Patience);
        // Every increment up to the end copied to both branches and (in its next batch) to the channel.
        await TestHosts.EventuallyAsync(async () =>
        {
            var all = await deployment.Increments.ListAsync(databaseName, CancellationToken.None);
            return all.Take(covered.Count).All(i => i.Sinks.GetValueOrDefault(BackupSinks.GitHub)?.Status == SinkStatus.Succeeded
                && i.Sinks.GetValueOrDefault(BackupSinks.Public)?.Status == SinkStatus.Succeeded
                && i.Sinks.GetValueOrDefault(BackupSinks.Telegram)?.Status == SinkStatus.Succeeded) ? "copied" : null;
        }, Patience, "every increment on the private and public branches and in the Telegram channel");

        var secondSnapshotSecond = (uint)(await new BackupsMetaStore(deployment.Database, TimeProvider.System).GetAsync(secondSnapshot, CancellationToken.None))!
            .Manifest!.ClusterTime!.Timestamp;
        var first = workload.FirstWriteSecond;
        uint[] targets =
        [
            first + 3,                    // early in the first chain segment
            first + 40,
            secondSnapshotSecond + 1,     // just after the second snapshot
            secondSnapshotSecond + 45,
            end - 2,                      // in the last minute
            end,
        ];
        foreach (var (from, target) in new[] { "store", BackupSinks.GitHub, BackupSinks.Public, BackupSinks.Telegram }.SelectMany(d => targets.Distinct().Select(t => (d, t))))
        {
            var targetUri = TestServices.WithDatabase(deployment.Uri, TestServices.UniqueName("pit"));
            var time = DateTimeOffset.FromUnixTimeSeconds(target).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
            var restore = await CliProcess.RunAsync(deployment.Settings, TimeSpan.FromMinutes(2), "restore", "--from", from, "--to-time", time, "--to-uri", targetUri);
            Assert.True(restore.ExitCode == 0, restore.Output);

            var restored = new MongoClient(targetUri).GetDatabase(MongoUrl.Create(targetUri).DatabaseName).GetCollection<RawBsonDocument>(Workload.Collection);
            var actual = (await restored.Find(FilterDefinition<RawBsonDocument>.Empty).Sort(new BsonDocument("_id", 1)).ToListAsync())
                .Select(d => Convert.ToHexString(d.ToBson())).ToList();
            var expected = workload.ModelAt(target).Select(d => Convert.ToHexString(d.ToBson())).ToList();
            Assert.True(expected.SequenceEqual(actual),
                $"restore from {from} to {time}: {actual.Count} documents, the model has {expected.Count}; first difference at {expected.Zip(actual).TakeWhile(p => p.First == p.Second).Count()}\n{restore.Output}");
        }
    }

    [Fact]
    public async Task The_drill_verifies_the_history_to_its_end_and_fails_when_an_increment_is_gone()
    {
        await using var deployment = await RecorderDeployment.CreateAsync(incrementSeconds: 1);
        await deployment.StartHostAsync();
        var databaseName = deployment.Database.DatabaseNamespace.DatabaseName;
        await TestHosts.EventuallyAsync(() => deployment.Increments.FindLatestAsync(databaseName, CancellationToken.None), Patience, "the first increment");
        var items = deployment.Database.GetCollection<BsonDocument>("items");
        for (var i = 0; i < 20; i++)
        {
            await items.InsertOneAsync(new BsonDocument("_id", i));
            await Task.Delay(100);
        }

        var records = await deployment.WaitForCoverageAsync(new BsonTimestamp(await ClusterTimes.NowAsync(deployment.Client)), Patience);
        var drill = await CliProcess.RunAsync(deployment.Settings, TimeSpan.FromMinutes(2), "drill", "--to-time", "latest");
        Assert.True(drill.ExitCode == 0, drill.Output);
        Assert.Contains($"store: history to ", drill.StandardOutput);
        Assert.Contains($"verified (snapshot {records[0].Chain} and ", drill.StandardOutput);

        // An increment in the middle of the chain disappears from the store: the history no longer verifies.
        var store = new GridFsArtifactStore(deployment.Client.GetDatabase(databaseName + ArtifactStoreOptions.DefaultDatabaseSuffix), ArtifactStoreOptions.DefaultBucket);
        await store.DeleteAsync(records[records.Count / 2].Artifact.Location, CancellationToken.None);
        var broken = await CliProcess.RunAsync(deployment.Settings, TimeSpan.FromMinutes(2), "drill", "--to-time", "latest");
        Assert.True(broken.ExitCode == 1, broken.Output);
        Assert.Contains("store: history to latest FAILED", broken.StandardOutput);
    }

    [Fact]
    public async Task A_scheduled_drill_of_the_store_checks_its_change_history_and_fails_when_an_increment_is_gone()
    {
        await using var deployment = await RecorderDeployment.CreateAsync(incrementSeconds: 1);
        var host = await deployment.StartHostAsync();
        var databaseName = deployment.Database.DatabaseNamespace.DatabaseName;
        await TestHosts.EventuallyAsync(() => deployment.Increments.FindLatestAsync(databaseName, CancellationToken.None), Patience, "the first increment");
        await deployment.Database.GetCollection<BsonDocument>("items").InsertManyAsync(Enumerable.Range(0, 10).Select(i => new BsonDocument("_id", i)));
        var records = await deployment.WaitForCoverageAsync(new BsonTimestamp(await ClusterTimes.NowAsync(deployment.Client) + (3L << 32)), Patience);
        var drill = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<TeleGuard.Backup.Destinations.RestoreDrill>(host.Services);
        var store = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetServices<TeleGuard.Backup.Destinations.IBackupDestination>(host.Services)
            .Single(d => d.Name == "store");
        var request = new RestoreDrillRequested("20261130T000000Z", DateTimeOffset.UtcNow, "schedule");

        var passed = await drill.RunRequestedAsync(store, request, CancellationToken.None);
        Assert.True(passed!.Ok, passed.Error);

        var artifacts = new GridFsArtifactStore(deployment.Client.GetDatabase(databaseName + ArtifactStoreOptions.DefaultDatabaseSuffix), ArtifactStoreOptions.DefaultBucket);
        await artifacts.DeleteAsync(records[records.Count / 2].Artifact.Location, CancellationToken.None);
        var failed = await drill.RunRequestedAsync(store, request, CancellationToken.None);
        Assert.False(failed!.Ok);
        Assert.Contains("the change history does not verify", failed.Error);
        var snapshot = await new BackupsMetaStore(deployment.Database, TimeProvider.System).GetAsync(failed.SnapshotId!, CancellationToken.None);
        Assert.False(snapshot!.Drills["store"].Ok);
    }

    private static async Task<string> RequestSnapshotAsync(RecorderDeployment deployment, Microsoft.Extensions.Hosting.IHost host)
    {
        var now = DateTimeOffset.UtcNow;
        var id = TeleGuard.Backup.SnapshotFormat.SnapshotIds.FromTime(now);
        var meta = new BackupsMetaStore(deployment.Database, TimeProvider.System);
        await meta.RecordRequestedAsync(id, now, "manual", CancellationToken.None);
        await Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<MassTransit.IBus>(host.Services)
            .Publish(new SnapshotRequested(id, now, "manual"));
        await TestHosts.EventuallyAsync(async () => (await meta.GetAsync(id, CancellationToken.None))?.Manifest?.ClusterTime is not null ? "created" : null,
            Patience, $"snapshot {id}");
        return id;
    }

    /// <summary>
    /// Inserts, nested $set, $unset, $push, $pop, $set of an array element, replaces and deletes at a steady rate,
    /// applying each to its own model with the write's cluster time.
    /// </summary>
    private sealed class Workload(IMongoClient client, IMongoDatabase database)
    {
        public const string Collection = "accounts";

        private readonly IMongoCollection<BsonDocument> _collection = database.GetCollection<BsonDocument>(Collection);
        private readonly List<(long Time, BsonDocument? Before, int Id, BsonDocument? After)> _writes = [];
        private readonly SortedDictionary<int, BsonDocument> _current = [];
        private readonly Random _random = new(18);
        private int _nextId;

        public uint FirstWriteSecond => (uint)(_writes[0].Time >> 32);

        public async Task RunAsync(TimeSpan duration)
        {
            var until = DateTime.UtcNow + duration;
            while (DateTime.UtcNow < until)
            {
                await WriteOneAsync();
                await Task.Delay(20);
            }
        }

        public async Task<uint> LastWriteTimeAsync() => (uint)((await ClusterTimes.NowAsync(client)) >> 32);

        /// <summary>The documents at the end of second <paramref name="second"/>, in _id order.</summary>
        public List<BsonDocument> ModelAt(uint second)
        {
            var state = new SortedDictionary<int, BsonDocument>();
            foreach (var (time, _, id, after) in _writes.Where(w => (ulong)w.Time >> 32 <= second))
            {
                if (after is null)
                {
                    state.Remove(id);
                }
                else
                {
                    state[id] = after;
                }
            }

            return state.Values.ToList();
        }

        private async Task WriteOneAsync()
        {
            using var session = await client.StartSessionAsync();
            var ids = _current.Keys.ToList();
            var choice = ids.Count < 20 ? 0 : _random.Next(10);
            if (choice <= 2)
            {
                var id = _nextId++;
                var document = new BsonDocument
                {
                    { "_id", id }, { "name", $"user-{id}" }, { "nick", "n" + id },
                    { "profile", new BsonDocument { { "age", 20 + id % 50 }, { "city", "c" + id % 7 } } },
                    { "tags", new BsonArray { "a", "b" } }, { "balance", new Decimal128(id * 1.5m) },
                };
                await _collection.InsertOneAsync(session, document);
                Record(session, id, document.DeepClone().AsBsonDocument);
                return;
            }

            var target = ids[_random.Next(ids.Count)];
            var model = _current[target].DeepClone().AsBsonDocument;
            var filter = new BsonDocument("_id", target);
            if ((choice == 3 && !model.Contains("profile")) || (choice is 5 or 6 or 7 && !model.Contains("tags")))
            {
                return; // a replaced document has neither
            }

            switch (choice)
            {
                case 3:
                    var age = _random.Next(100);
                    await _collection.UpdateOneAsync(session, filter, new BsonDocument("$set", new BsonDocument("profile.age", age)));
                    model["profile"]["age"] = age;
                    break;
                case 4:
                    await _collection.UpdateOneAsync(session, filter, new BsonDocument("$unset", new BsonDocument("nick", "")));
                    model.Remove("nick"); // already gone: no change, the model stays as it is
                    break;
                case 5:
                    var tag = "t" + _random.Next(1000);
                    await _collection.UpdateOneAsync(session, filter, new BsonDocument("$push", new BsonDocument("tags", tag)));
                    model["tags"].AsBsonArray.Add(tag);
                    break;
                case 6:
                    if (model["tags"].AsBsonArray.Count == 0)
                    {
                        return;
                    }

                    await _collection.UpdateOneAsync(session, filter, new BsonDocument("$pop", new BsonDocument("tags", 1)));
                    model["tags"].AsBsonArray.RemoveAt(model["tags"].AsBsonArray.Count - 1);
                    break;
                case 7:
                    if (model["tags"].AsBsonArray.Count == 0)
                    {
                        return;
                    }

                    var value = "x" + _random.Next(1000);
                    await _collection.UpdateOneAsync(session, filter, new BsonDocument("$set", new BsonDocument("tags.0", value)));
                    model["tags"][0] = value;
                    break;
                case 8:
                    var replacement = new BsonDocument { { "_id", target }, { "name", $"replaced-{target}" }, { "flags", new BsonDocument("vip", true) } };
                    await _collection.ReplaceOneAsync(session, filter, replacement);
                    model = replacement;
                    break;
                default:
                    await _collection.DeleteOneAsync(session, filter);
                    Record(session, target, null);
                    return;
            }

            Record(session, target, model);
        }

        private void Record(IClientSessionHandle session, int id, BsonDocument? after)
        {
            var time = session.OperationTime ?? throw new InvalidOperationException("The server reported no operation time: it is not a replica set.");
            _writes.Add((time.Value, null, id, after));
            if (after is null)
            {
                _current.Remove(id);
            }
            else
            {
                _current[id] = after;
            }
        }
    }
}

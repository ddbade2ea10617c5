using System.Globalization;
using System.Text.RegularExpressions;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Cli.Tests;

/// <summary>
/// <c>restore --to-time</c> and <c>verify --to-time</c> with the real program: a snapshot taken by <c>snapshot</c> on a
/// replica set, increments of the changes after it (recorded from the server's change stream) in the artifact store
/// and backups_meta, as the change recorder leaves them.
/// </summary>
public sealed partial class RestoreToTimeTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);
    private readonly TemporaryDirectory _work = new();

    public void Dispose() => _work.Dispose();

    [GeneratedRegex(@"Requested snapshot (\d{8}T\d{6}Z)")]
    private static partial Regex SnapshotIdPattern();

    private sealed record History(Dictionary<string, string?> Environment, IMongoDatabase Source, string SnapshotId, ClusterTimestamp SnapshotTime,
        ClusterTimestamp FirstPhase, SortedDictionary<string, List<byte[]>> AtFirstPhase, ClusterTimestamp End, SortedDictionary<string, List<byte[]>> AtEnd,
        IReadOnlyList<IncrementRecord> Increments, string ArtifactDirectory, int EventsToFirstPhase, int EventsToEnd);

    // A snapshot, then two phases of writes in different seconds, recorded as two increments in the store.
    private async Task<History> RecordAsync()
    {
        var uri = await TestServices.MongoReplicaSetUriAsync();
        var client = new MongoClient(uri);
        var source = client.GetDatabase(MongoUrl.Create(uri).DatabaseName);
        var users = source.GetCollection<BsonDocument>("users");
        await users.InsertManyAsync(Enumerable.Range(1, 20).Select(i => new BsonDocument
        {
            { "_id", i }, { "name", $"user {i}" }, { "tags", new BsonArray { "a", "b", "c" } }, { "profile", new BsonDocument("city", "Berlin") },
        }));
        await source.GetCollection<BsonDocument>("orders").InsertOneAsync(new BsonDocument { { "_id", "o1" }, { "total", 10 } });
        var artifacts = Path.Combine(_work.Path, "artifacts");
        var environment = new Dictionary<string, string?>
        {
            ["MONGODB_URI"] = uri,
            ["REDIS_URL"] = await TestServices.RedisUrlAsync(),
            ["REDIS_KEY_PREFIX"] = TestServices.UniqueName("test"),
            ["SNAPSHOT_DIR"] = Path.Combine(_work.Path, "snapshots"),
            ["ARTIFACT_STORE"] = "directory",
            ["ARTIFACT_DIR"] = artifacts,
            ["LOG_FORMAT"] = "text",
        };
        var snapshot = await CliProcess.RunAsync(environment, Timeout, "snapshot");
        Assert.True(snapshot.ExitCode == 0, snapshot.Output);
        var snapshotId = SnapshotIdPattern().Match(snapshot.Output).Groups[1].Value;
        var record = await source.GetCollection<BackupRecord>(BackupsMetaStore.CollectionName).Find(r => r.Id == snapshotId).SingleAsync();
        var snapshotTime = ChangeEventLine.ToClusterTimestamp(record.Manifest!.ClusterTime!);

        using var history = await RecordedHistory.StartAsync(source, snapshotTime);
        var session = history.Session;
        await users.UpdateOneAsync(session, new BsonDocument("_id", 1), new BsonDocument { { "$set", new BsonDocument("profile.city", "Paris") }, { "$unset", new BsonDocument("name", "") } });
        await users.UpdateOneAsync(session, new BsonDocument("_id", 2), new BsonDocument("$pop", new BsonDocument("tags", 1)));
        await users.InsertOneAsync(session, new BsonDocument { { "_id", 21 }, { "name", "new" } });
        await users.DeleteOneAsync(session, new BsonDocument("_id", 3));
        var firstPhase = history.Now;
        var atFirstPhase = await ContentAsync(source);
        await NextSecondAsync(client, firstPhase);
        await users.UpdateOneAsync(session, new BsonDocument("_id", 21), new BsonDocument("$push", new BsonDocument("tags", "z")));
        await source.RenameCollectionAsync(session, "orders", "archived_orders");
        await source.GetCollection<BsonDocument>("fresh").InsertOneAsync(session, new BsonDocument { { "_id", 1 }, { "v", 1.5 } });
        var end = history.Now;
        var atEnd = await ContentAsync(source);
        await history.CatchUpAsync(end);

        var increments = await history.WriteIncrementsAsync(Path.Combine(_work.Path, "increments"), source.DatabaseNamespace.DatabaseName,
            snapshotId, snapshotTime, firstPhase, end);
        var store = new DirectoryArtifactStore(artifacts);
        var records = new List<IncrementRecord>();
        foreach (var increment in increments)
        {
            var manifest = increment.Manifest;
            var stored = await store.SaveAsync(manifest.IncrementId, (stream, ct) => IncrementArchive.WriteAsync(manifest, increment.EventsFile, stream, ct), CancellationToken.None);
            var incrementRecord = new IncrementRecord
            {
                Id = manifest.IncrementId, Database = manifest.Database, Chain = manifest.Chain, Sequence = manifest.Sequence, BaseSnapshotId = manifest.BaseSnapshotId,
                From = ChangeEventLine.ToBsonTimestamp(manifest.From), To = ChangeEventLine.ToBsonTimestamp(manifest.To), Events = manifest.Events,
                Sha256 = manifest.Sha256, PreviousSha256 = manifest.PreviousSha256, ClosedAt = manifest.ClosedAt.UtcDateTime,
                Artifact = new ArtifactRecord { Location = stored.Location, Size = stored.Size, Sha256 = stored.Sha256 },
                ResumeToken = new BsonDocument("_data", "test"), Recorder = "test",
            };
            Assert.True(await new IncrementsStore(source).TryInsertAsync(incrementRecord, CancellationToken.None));
            records.Add(incrementRecord);
        }

        // The restore replays every event but those of the live backups_meta (the snapshot command's own records).
        var replayed = history.Events.Where(e => e["ns"]["coll"] != "backups_meta").Select(ChangeEventLine.ClusterTime).ToList();
        return new History(environment, source, snapshotId, snapshotTime, firstPhase, atFirstPhase, end, atEnd, records, artifacts,
            replayed.Count(t => IncrementManifest.Compare(t, firstPhase) <= 0), replayed.Count(t => IncrementManifest.Compare(t, end) <= 0));
    }

    // What a restore of everything restores: the database without the live backups_meta.
    private static async Task<SortedDictionary<string, List<byte[]>>> ContentAsync(IMongoDatabase database)
    {
        var content = await RecordedHistory.ContentAsync(database);
        content.Remove("backups_meta");
        return content;
    }

    private static async Task NextSecondAsync(IMongoClient client, ClusterTimestamp after)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while ((uint)(new BsonTimestamp(await ClusterTimes.NowAsync(client)).Timestamp) <= after.T)
        {
            Assert.True(DateTime.UtcNow < deadline, "the server's cluster time did not reach the next second");
            await Task.Delay(100);
        }
    }

    private static string Iso(ClusterTimestamp time) =>
        DateTimeOffset.FromUnixTimeSeconds(time.T).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static async Task<(string Uri, IMongoDatabase Database)> TargetAsync()
    {
        var uri = await TestServices.MongoUriAsync();
        return (uri, new MongoClient(uri).GetDatabase(MongoUrl.Create(uri).DatabaseName));
    }

    [Fact]
    public async Task Restore_to_a_time_and_to_latest_gives_the_database_as_it_was_then()
    {
        var history = await RecordAsync();

        var verify = await CliProcess.RunAsync(history.Environment, Timeout, "verify", "--from", "store", "--to-time", "latest");
        Assert.True(verify.ExitCode == 0, verify.Output);
        Assert.Contains($"snapshot {history.SnapshotId} (", verify.Output);
        Assert.Contains("2 increments", verify.Output);
        Assert.Contains("the chain is unbroken", verify.Output);

        var (thenUri, then) = await TargetAsync();
        var restoreThen = await CliProcess.RunAsync(history.Environment, Timeout, "restore", "--from", "store", "--to-time", Iso(history.FirstPhase), "--to-uri", thenUri);
        Assert.True(restoreThen.ExitCode == 0, restoreThen.Output);
        // The second increment is fetched too (it says what else happened in that second) and its later events are not applied.
        Assert.Contains($"as of {Iso(history.FirstPhase)}: snapshot {history.SnapshotId}, then {history.EventsToFirstPhase} events of 2 increments", restoreThen.Output);
        Assert.True(history.EventsToFirstPhase >= 4, restoreThen.Output);
        Assert.Equal(history.AtFirstPhase, await ContentAsync(then));

        var (latestUri, latest) = await TargetAsync();
        await latest.GetCollection<BsonDocument>("orders").InsertOneAsync(new BsonDocument("_id", "target's own"));
        var restoreLatest = await CliProcess.RunAsync(history.Environment, Timeout, "restore", "--from", "store", "--to-time", "latest", "--to-uri", latestUri, "--drop");
        Assert.True(restoreLatest.ExitCode == 0, restoreLatest.Output);
        Assert.Contains($"then {history.EventsToEnd} events of 2 increments", restoreLatest.Output);
        Assert.True(history.EventsToEnd >= history.EventsToFirstPhase + 4, restoreLatest.Output);
        Assert.Contains("removed orders (not there at that time)", restoreLatest.Output);
        Assert.Equal(history.AtEnd, await ContentAsync(latest));
    }

    [Fact]
    public async Task A_time_outside_the_history_a_tampered_increment_and_wrong_options_are_refused_and_the_target_keeps_what_it_had()
    {
        var history = await RecordAsync();
        var (targetUri, target) = await TargetAsync();
        await target.GetCollection<BsonDocument>("users").InsertOneAsync(new BsonDocument { { "_id", 1 }, { "precious", true } });
        var before = await RecordedHistory.ContentAsync(target);

        var tooEarly = await CliProcess.RunAsync(history.Environment, Timeout, "restore", "--from", "store", "--to-time", Iso(new ClusterTimestamp(history.SnapshotTime.T - 1, 0)), "--to-uri", targetUri, "--drop");
        Assert.Equal(1, tooEarly.ExitCode);
        Assert.Contains($"is before the oldest snapshot held here ({history.SnapshotId}", tooEarly.Output);

        var tooLate = await CliProcess.RunAsync(history.Environment, Timeout, "restore", "--from", "store", "--to-time", Iso(new ClusterTimestamp(history.End.T + 3600, 0)), "--to-uri", targetUri, "--drop");
        Assert.Equal(1, tooLate.ExitCode);
        Assert.Contains($"The history reaches only to {ClusterTimestamps.Describe(history.End)}", tooLate.Output);

        var both = await CliProcess.RunAsync(history.Environment, Timeout, "restore", "--from", "store", "--to-time", "latest", "--snapshot", history.SnapshotId, "--to-uri", targetUri);
        Assert.Equal(2, both.ExitCode);
        Assert.Contains("--to-time and --snapshot cannot be used together", both.Output);

        var badTime = await CliProcess.RunAsync(history.Environment, Timeout, "verify", "--from", "store", "--to-time", "2026-11-30 13:42");
        Assert.Equal(2, badTime.ExitCode);
        Assert.Contains("--to-time must be a UTC time like 2026-11-30T13:42:10Z, or latest", badTime.Output);

        // Every destination holds increments; a file holds one snapshot only.
        var noHistory = await CliProcess.RunAsync(history.Environment, Timeout, "verify", "--from", "file", "--path", history.ArtifactDirectory, "--to-time", "latest");
        Assert.Equal(2, noHistory.ExitCode);
        Assert.Contains("--to-time needs the increments a destination holds (--from store), not a file", noHistory.Output);

        // One byte of the second increment's events changed in the store: the artifact no longer matches its record.
        var file = Path.Combine(history.ArtifactDirectory, history.Increments[1].Artifact.Location["dir:".Length..]);
        var bytes = await File.ReadAllBytesAsync(file);
        var at = bytes.AsSpan().IndexOf("\"z\""u8);
        bytes[at + 1] = (byte)'y';
        await File.WriteAllBytesAsync(file, bytes);
        var tampered = await CliProcess.RunAsync(history.Environment, Timeout, "restore", "--from", "store", "--to-time", "latest", "--to-uri", targetUri, "--drop");
        Assert.Equal(1, tampered.ExitCode);
        Assert.Contains($"Increment {history.Increments[1].Id}", tampered.Output);

        Assert.Equal(before, await RecordedHistory.ContentAsync(target));
        Assert.DoesNotContain(await (await target.ListCollectionNamesAsync()).ToListAsync(), RestoreWorkCollections.IsWorkCollection);
    }
}

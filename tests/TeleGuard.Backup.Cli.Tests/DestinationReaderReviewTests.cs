using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Cli.Tests;

/// <summary>
/// The destination readers found by name: a repository is read back with only its own variables (no MONGODB_URI,
/// nothing left in TMPDIR), and a failed drill of the artifact store is recorded on the snapshot it read.
/// </summary>
public sealed class DestinationReaderReviewTests : IDisposable
{
    private readonly TemporaryDirectory _work = new();

    public void Dispose() => _work.Dispose();

    private string Temporary => Path.Combine(_work.Path, "tmp");

    [Fact]
    public async Task Verify_from_github_and_public_needs_only_the_repository_variables_and_leaves_nothing_in_tmp()
    {
        var destinations = await GitDestinations.CreateAsync(_work.Path, Temporary);
        var id = await destinations.SnapshotAsync();
        Assert.Empty(Directory.EnumerateFileSystemEntries(Temporary));

        // An operator's laptop: the repository and the key, no database, no Redis.
        var repositoryOnly = new Dictionary<string, string?>(destinations.Environment)
        {
            ["MONGODB_URI"] = null,
            ["REDIS_URL"] = null,
            ["REDIS_KEY_PREFIX"] = null,
            ["SNAPSHOT_DIR"] = null,
        };
        foreach (var from in new[] { "github", "public" })
        {
            foreach (var snapshot in new[] { id, "latest" })
            {
                var verify = await CliProcess.RunAsync(repositoryOnly, GitDestinations.Timeout, "verify", "--from", from, "--snapshot", snapshot);
                Assert.True(verify.ExitCode == 0, $"verify --from {from} --snapshot {snapshot}:\n{verify.Output}");
                Assert.Contains($"snapshot {id}:", verify.StandardOutput);
                Assert.Empty(Directory.EnumerateFileSystemEntries(Temporary));
            }
        }

        // A snapshot the repository does not hold: a clear failure, and still nothing left behind.
        var missing = await CliProcess.RunAsync(repositoryOnly, GitDestinations.Timeout, "verify", "--from", "github", "--snapshot", "20000101T000000Z");
        Assert.True(missing.ExitCode == 1, missing.Output);
        Assert.Contains("Snapshot 20000101T000000Z is not on", missing.Output);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Temporary));
    }

    [Fact]
    public async Task A_failed_store_drill_is_recorded_on_the_snapshot_it_read_not_on_a_newer_one_still_being_written()
    {
        var destinations = await GitDestinations.CreateAsync(_work.Path, Temporary);
        var read = await destinations.SnapshotAsync();
        var database = new MongoClient(destinations.Environment["MONGODB_URI"]).GetDatabase(MongoUrl.Create(destinations.Environment["MONGODB_URI"]).DatabaseName);
        var records = database.GetCollection<BsonDocument>(BackupsMetaStore.CollectionName);

        // The stored artifact no longer matches its record: the store drill of `read` must fail.
        await records.UpdateOneAsync(new BsonDocument("_id", read), new BsonDocument("$set", new BsonDocument("artifact.sha256", new string('0', 64))));

        // The scheduler has just requested the next backup (RESTORE_DRILL_SCHEDULE and BACKUP_SCHEDULE fire together).
        var writing = SnapshotIds.FromTime(SnapshotIds.ToTime(read).AddMinutes(1));
        using (var meta = new BackupsMetaStore(database, TimeProvider.System))
        {
            await meta.RecordRequestedAsync(writing, DateTimeOffset.UtcNow, "schedule", CancellationToken.None);
        }

        var drill = await destinations.RunAsync("drill");
        Assert.True(drill.ExitCode == 1, drill.Output);
        Assert.Contains("store: FAILED", drill.Output);

        var readRecord = await records.Find(new BsonDocument("_id", read)).SingleAsync();
        var writingRecord = await records.Find(new BsonDocument("_id", writing)).SingleAsync();
        Assert.False(writingRecord.Contains("drills") && writingRecord["drills"].AsBsonDocument.Contains("store"),
            $"the store drill's failure was recorded on {writing}, a snapshot still being written that the drill never read: {writingRecord.GetValue("drills", BsonNull.Value)}");
        Assert.False(readRecord["drills"]["store"]["ok"].AsBoolean);
    }
}

using System.Text.RegularExpressions;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Cli.Tests;

/// <summary>
/// backups_meta as deployments have it, holding what the bot's earlier backup job and others wrote: the commands that
/// read it work, and none of them changes those documents.
/// </summary>
public sealed partial class SharedBackupsMetaTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);
    private readonly TemporaryDirectory _work = new();

    public void Dispose() => _work.Dispose();

    [GeneratedRegex(@"Requested snapshot (\d{8}T\d{6}Z)")]
    private static partial Regex SnapshotIdPattern();

    [Fact]
    public async Task Snapshot_status_restore_from_the_store_and_drill_work_beside_foreign_documents_and_leave_them_byte_for_byte_unchanged()
    {
        var (uri, source) = await RestoreSourceData.CreateAsync();
        var now = DateTimeOffset.UtcNow;
        var foreign = await SharedBackupsMeta.InsertForeignAsync(source, now);
        var old = SnapshotIds.FromTime(now.AddHours(-3)); // written by a version before records carried kind
        await source.GetCollection<BsonDocument>(BackupsMetaStore.CollectionName).InsertOneAsync(SharedBackupsMeta.RecordWithoutKind(old));
        var environment = new Dictionary<string, string?>
        {
            ["MONGODB_URI"] = uri,
            ["REDIS_URL"] = await TestServices.RedisUrlAsync(),
            ["REDIS_KEY_PREFIX"] = TestServices.UniqueName("test"),
            ["SNAPSHOT_DIR"] = _work.Path,
            ["LOG_FORMAT"] = "text",
        };

        var snapshot = await CliProcess.RunAsync(environment, Timeout, "snapshot");
        Assert.True(snapshot.ExitCode == 0, snapshot.Output);
        var id = SnapshotIdPattern().Match(snapshot.Output).Groups[1].Value;

        var status = await CliProcess.RunAsync(environment, Timeout, "status");
        Assert.True(status.ExitCode == 0, status.Output);
        Assert.Matches($@"(?m)^{id} +complete ", status.StandardOutput);
        Assert.Matches($@"(?m)^{old} +complete ", status.StandardOutput);
        Assert.Contains($"Last complete snapshot: {id}", status.StandardOutput);

        var json = await CliProcess.RunAsync(environment, Timeout, "status", "--json");
        Assert.True(json.ExitCode == 0, json.Output);
        var document = BsonDocument.Parse(json.StandardOutput);
        Assert.Equal([id, old], document["snapshots"].AsBsonArray.Select(s => s["id"].AsString));
        Assert.Equal(id, document["lastComplete"].AsString);

        var targetUri = await TestServices.MongoUriAsync();
        var restore = await CliProcess.RunAsync(environment, Timeout,
            "restore", "--from", "store", "--to-uri", targetUri, "--collections", string.Join(',', RestoreSourceData.Collections));
        Assert.True(restore.ExitCode == 0, restore.Output);
        Assert.Contains($"restored snapshot {id}", restore.Output);
        await RestoreSourceData.AssertSameAsync(source, new MongoClient(targetUri).GetDatabase(MongoUrl.Create(targetUri).DatabaseName));

        var drill = await CliProcess.RunAsync(environment, Timeout, "drill");
        Assert.True(drill.ExitCode == 0, drill.Output);
        Assert.Contains($"store: snapshot {id} verified", drill.StandardOutput);

        await SharedBackupsMeta.AssertForeignUnchangedAsync(source, foreign);
    }
}

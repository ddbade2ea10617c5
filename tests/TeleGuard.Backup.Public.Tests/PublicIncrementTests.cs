using System.Text;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.Cli;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Crypto;
using TeleGuard.Backup.Destinations;
using TeleGuard.Backup.Destinations.Public;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;
using static TeleGuard.Backup.TestSupport.AnnouncedIncrements;

namespace TeleGuard.Backup.Public.Tests;

/// <summary>
/// Increments through RabbitMQ to the public branch, encrypted, and back: the snapshot service and the sinks in one host
/// against the replica-set server and the git smart-HTTP server; increments recorded from the server's change stream
/// (<see cref="RecordedHistory"/>), stored and announced as the change recorder does; restores to a time with the real program.
/// </summary>
public sealed class PublicIncrementTests : IAsyncDisposable
{
    private const string Branch = "public-snapshots";
    private const string Secret = "zebra-kept-secret-4711";
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);
    private readonly TemporaryDirectory _work = new();
    private readonly GitServer _git = GitServer.FromEnvironment();
    private readonly CapturedLogs _logs = new();
    private readonly byte[] _key = EncryptionKeyRing.GenerateKey();
    private IHost? _host;
    private RabbitMqVirtualHost? _vhost;

    private sealed record Pipeline(IHost Host, IMongoDatabase Database, BackupsMetaStore Meta, IncrementsStore Increments, IBus Bus,
        string RepositoryPath, Dictionary<string, string?> Cli, Dictionary<string, string?> Settings);

    private async Task<Pipeline> StartAsync(Dictionary<string, string?>? overrides = null)
    {
        var uri = await TestServices.MongoReplicaSetUriAsync();
        var client = new MongoClient(uri);
        var database = client.GetDatabase(MongoUrl.Create(uri).DatabaseName);
        _vhost = await TestServices.RabbitMqVirtualHostAsync();
        var (url, path) = _git.CreateRepository();
        var settings = new Dictionary<string, string?>
        {
            ["MONGODB_URI"] = uri,
            ["RABBITMQ_URI"] = _vhost.AmqpUri,
            ["REDIS_URL"] = await TestServices.RedisUrlAsync(),
            ["REDIS_KEY_PREFIX"] = TestServices.UniqueName("test"),
            ["SNAPSHOT_DIR"] = _work.Path,
            ["ARTIFACT_STORE"] = "directory",
            ["ARTIFACT_DIR"] = Path.Combine(_work.Path, "artifacts"),
            ["GITHUB_REPO"] = url.ToString(),
            ["GITHUB_PUBLIC_REPO"] = url.ToString(),
            ["GITHUB_TOKEN"] = _git.Token,
            ["ENCRYPTION_KEY"] = Convert.ToBase64String(_key),
            ["RETENTION_HOURS"] = "1",
            ["RETRY_LIMIT"] = "1",
            ["RETRY_MIN_SECONDS"] = "0",
            ["RETRY_MAX_SECONDS"] = "1",
            ["LOG_LEVEL"] = "Trace",
        };
        foreach (var (key, value) in overrides ?? [])
        {
            settings[key] = value;
        }

        var builder = TestHosts.CreateBuilder(settings);
        builder.AddBackupDefaults();
        builder.Logging.AddProvider(_logs);
        builder.AddAllBackupServices(includeScheduler: false);
        builder.AddBackupBus();
        _host = builder.Build();
        await _host.StartAsync();
        var cli = new Dictionary<string, string?>
        {
            ["GITHUB_PUBLIC_REPO"] = url.ToString(),
            ["GITHUB_TOKEN"] = _git.Token,
            ["ENCRYPTION_KEY"] = Convert.ToBase64String(_key),
            ["SNAPSHOT_DIR"] = Path.Combine(_work.Path, "cli"),
            ["LOG_FORMAT"] = "text",
        };
        return new Pipeline(_host, database, _host.Services.GetRequiredService<BackupsMetaStore>(), _host.Services.GetRequiredService<IncrementsStore>(),
            _host.Services.GetRequiredService<IBus>(), path, cli, settings);
    }

    private static async Task<(string Id, ClusterTimestamp ClusterTime)> SnapshotAsync(Pipeline pipeline, string id)
    {
        await pipeline.Bus.Publish(new SnapshotRequested(id, DateTimeOffset.UtcNow, "schedule"));
        var record = await TestHosts.EventuallyAsync(
            async () => await pipeline.Meta.GetAsync(id, CancellationToken.None) is { } r && BackupStatus.IsFinal(r.Status) ? r : null, Timeout, $"snapshot {id}");
        Assert.Equal(BackupStatus.Complete, record.Status);
        Assert.Equal(SinkStatus.Succeeded, record.Sinks[BackupSinks.Public].Status);
        return (id, ChangeEventLine.ToClusterTimestamp(record.Manifest!.ClusterTime!));
    }

    private static Task<IncrementRecord> CopiedAsync(Pipeline pipeline, string incrementId) =>
        AnnouncedIncrements.CopiedAsync(pipeline.Increments, BackupSinks.Public, incrementId, Timeout);

    private static List<string> IncrementFiles(Pipeline pipeline) =>
        GitServer.Run(pipeline.RepositoryPath, "ls-tree", "-r", "--name-only", Branch, "increments/").Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();

    private static List<string> IncrementTrailers(Pipeline pipeline) =>
        GitServer.Run(pipeline.RepositoryPath, "log", "--format=%(trailers:key=Increment-Id,valueonly,separator=)", Branch)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();

    /// <summary>Every blob of every commit on the public branch, and every commit message.</summary>
    private static List<byte[]> EverythingOnTheBranch(Pipeline pipeline)
    {
        using var repository = new LibGit2Sharp.Repository(pipeline.RepositoryPath);
        var all = new List<byte[]>();
        foreach (var commit in repository.Commits.QueryBy(new LibGit2Sharp.CommitFilter { IncludeReachableFrom = repository.Branches[Branch] }))
        {
            all.Add(Encoding.UTF8.GetBytes(commit.Message));
            AddBlobs(commit.Tree, all);
        }

        Assert.True(all.Count > 10, "the branch holds the snapshots and increments");
        return all;
    }

    private static void AddBlobs(LibGit2Sharp.Tree tree, List<byte[]> all)
    {
        foreach (var entry in tree)
        {
            if (entry.Target is LibGit2Sharp.Tree subtree)
            {
                AddBlobs(subtree, all);
            }
            else if (entry.Target is LibGit2Sharp.Blob blob)
            {
                using var content = blob.GetContentStream();
                using var bytes = new MemoryStream();
                content.CopyTo(bytes);
                all.Add(bytes.ToArray());
            }
        }
    }

    /// <summary>Replaces a file at the branch head on the server, as anyone with push access could.</summary>
    private static void Replace(Pipeline pipeline, string file, byte[] content)
    {
        using var repository = new LibGit2Sharp.Repository(pipeline.RepositoryPath);
        var head = repository.Branches[Branch].Tip;
        var tree = LibGit2Sharp.TreeDefinition.From(head.Tree);
        tree.Add(file, repository.ObjectDatabase.CreateBlob(new MemoryStream(content)), LibGit2Sharp.Mode.NonExecutableFile);
        var signature = new LibGit2Sharp.Signature("mallory", "m@example.org", DateTimeOffset.UtcNow);
        var commit = repository.ObjectDatabase.CreateCommit(signature, signature, "replaced", repository.ObjectDatabase.CreateTree(tree), [head], false);
        repository.Refs.UpdateTarget(repository.Refs[$"refs/heads/{Branch}"], commit.Id, "tamper");
    }

    private static string Head(Pipeline pipeline) => GitServer.Run(pipeline.RepositoryPath, "rev-parse", Branch).Trim();

    /// <summary>An increment's file as the publisher makes it: its archive encrypted anew with the key (a fresh salt, so other bytes each time).</summary>
    private async Task<byte[]> EncryptedFileAsync(ExtractedIncrement increment)
    {
        var archive = Path.Combine(_work.Path, $"{Guid.NewGuid():N}.tar");
        await using (var output = File.Create(archive))
        {
            await IncrementArchive.WriteAsync(increment.Manifest, increment.EventsFile, output, CancellationToken.None);
        }

        var encrypted = archive + PublicIncrements.Extension;
        await PublicIncrements.EncryptAsync(archive, encrypted, new EncryptionKeyRing(_key), increment.Manifest.IncrementId, CancellationToken.None);
        return await File.ReadAllBytesAsync(encrypted);
    }

    private sealed record History(string SnapshotId, ClusterTimestamp SnapshotTime, List<ExtractedIncrement> Written, SortedDictionary<string, List<byte[]>> AtEnd,
        ClusterTimestamp End);

    /// <summary>A snapshot, writes after it, and the two increments that hold them, copied to the branch through the bus.</summary>
    private async Task<History> TwoIncrementsOnTheBranchAsync(Pipeline pipeline, string snapshotId)
    {
        var users = pipeline.Database.GetCollection<BsonDocument>("users");
        await users.InsertManyAsync(Enumerable.Range(1, 5).Select(i => new BsonDocument { { "_id", i }, { "name", $"user {i}" } }));
        var snapshot = await SnapshotAsync(pipeline, snapshotId);
        using var history = await RecordedHistory.StartAsync(pipeline.Database, snapshot.ClusterTime);
        await users.UpdateOneAsync(history.Session, new BsonDocument("_id", 1), new BsonDocument("$set", new BsonDocument("name", "renamed")));
        var middle = history.Now;
        await users.DeleteOneAsync(history.Session, new BsonDocument("_id", 2));
        var last = history.Now;
        var atEnd = await BackedUpContentAsync(pipeline.Database);
        await history.CatchUpAsync(last);
        var end = new ClusterTimestamp(last.T, last.I + 1);
        var written = await history.WriteIncrementsAsync(Path.Combine(_work.Path, "increments"), pipeline.Database.DatabaseNamespace.DatabaseName,
            snapshot.Id, snapshot.ClusterTime, middle, end);
        var store = pipeline.Host.Services.GetRequiredService<IArtifactStore>();
        foreach (var increment in written)
        {
            var announced = await StoreAsync(store, pipeline.Increments, increment);
            await pipeline.Bus.Publish(announced);
            var copy = (await CopiedAsync(pipeline, announced.IncrementId)).Sinks[BackupSinks.Public];
            Assert.True(copy.Status == SinkStatus.Succeeded, copy.Error);
        }

        return new History(snapshot.Id, snapshot.ClusterTime, written, atEnd, end);
    }

    [Fact]
    public async Task Increments_are_committed_encrypted_once_restore_to_a_time_equals_the_database_then_retention_keeps_those_after_the_kept_snapshot_and_a_truncated_file_is_refused()
    {
        var pipeline = await StartAsync();
        var (first, second, phase1, end, atPhase1, atPhase3, written, announced) = await IncrementScenario.RecordAsync(pipeline.Database,
            id => SnapshotAsync(pipeline, id), Secret, Path.Combine(_work.Path, "increments"), pipeline.Host.Services.GetRequiredService<IArtifactStore>(), pipeline.Increments);

        foreach (var increment in announced)
        {
            await pipeline.Bus.Publish(increment);
            var copy = (await CopiedAsync(pipeline, increment.IncrementId)).Sinks[BackupSinks.Public];
            Assert.True(copy.Status == SinkStatus.Succeeded, copy.Error);
            Assert.Equal(1, copy.Attempts);
            Assert.Equal(GitServer.Run(pipeline.RepositoryPath, "rev-parse", Branch).Trim(), copy.LocationAs<PublicLocation>()!.Commit);
        }

        // Each under its base snapshot, its header naming it, decrypting with the key to exactly the artifact.
        foreach (var increment in announced)
        {
            var encrypted = GitServer.ReadBlob(pipeline.RepositoryPath, Branch, $"increments/{increment.BaseSnapshotId}/{increment.IncrementId}.tgb");
            var header = StreamingEncryption.ParseHeader(encrypted);
            Assert.Equal((2, increment.IncrementId, EncryptionKeyRing.KeyIdOf(_key)), (header.Version, header.SnapshotId, header.KeyId));
            var archive = Path.Combine(_work.Path, increment.IncrementId + ".tar");
            await EncryptedArchive.DecryptAsync(new MemoryStream(encrypted), archive, new EncryptionKeyRing(_key), increment.IncrementId);
            Assert.Equal(increment.ArtifactSha256, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(archive))));
        }

        // As the branch's README says, the program's decrypt gives the archive back from a downloaded file.
        var downloaded = Path.Combine(_work.Path, "downloaded.tgb");
        await File.WriteAllBytesAsync(downloaded, GitServer.ReadBlob(pipeline.RepositoryPath, Branch, $"increments/{first.Id}/{announced[0].IncrementId}.tgb"));
        var decrypted = Path.Combine(_work.Path, "downloaded.tar");
        var decrypt = await CliProcess.RunAsync(new Dictionary<string, string?> { ["ENCRYPTION_KEY"] = Convert.ToBase64String(_key) }, Timeout,
            "decrypt", "--in", downloaded, "--out", decrypted);
        Assert.True(decrypt.ExitCode == 0, decrypt.Output);
        Assert.Equal(announced[0].ArtifactSha256, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(decrypted))));

        Assert.Equal(3, IncrementFiles(pipeline).Count);
        Assert.True(written[0].Manifest.Events >= 3 && written[1].Manifest.Events >= 2 && written[2].Manifest.Events >= 2);

        // Nothing in plaintext: no document value, no manifest (its field names, its hashes) in any blob or commit message.
        var plaintexts = new[] { Secret, "Paris", "teleguard-increment", "\"events\"", written[0].Manifest.Sha256, written[2].Manifest.Sha256 };
        foreach (var blob in EverythingOnTheBranch(pipeline))
        {
            foreach (var plaintext in plaintexts)
            {
                Assert.True(blob.AsSpan().IndexOf(Encoding.UTF8.GetBytes(plaintext)) < 0, $"the public branch holds \"{plaintext}\" in plaintext");
            }
        }

        // A redelivery finds its increment on the branch: no second commit.
        await pipeline.Bus.Publish(announced[0]);
        await TestHosts.EventuallyAsync(() => Task.FromResult(_logs.All.Contains($"increment {announced[0].IncrementId} was already copied") ? "seen" : null),
            Timeout, "the redelivery to be handled");
        Assert.Equal(announced.Select(i => i.IncrementId).Reverse(), IncrementTrailers(pipeline));

        var status = await CliProcess.RunAsync(pipeline.Settings, Timeout, "status");
        Assert.True(status.ExitCode == 0, status.Output);
        Assert.Contains($"public: from {Iso(first.ClusterTime)} to {Iso(end)}", status.Output);

        // Restore to the end of phase 1 (from the first snapshot) equals the database then, byte for byte.
        var (thenUri, then) = await RestoreTargetAsync();
        var restoreThen = await CliProcess.RunAsync(pipeline.Cli, Timeout, "restore", "--from", "public", "--to-time", Iso(phase1), "--to-uri", thenUri);
        Assert.True(restoreThen.ExitCode == 0, restoreThen.Output);
        Assert.Contains($"as of {Iso(phase1)}: snapshot {first.Id}", restoreThen.Output);
        Assert.Equal(atPhase1, await BackedUpContentAsync(then));

        // Retention removes the first snapshot and increment 1 (it ends before the second snapshot), keeps 2 and 3.
        await pipeline.Bus.Publish(new CleanupRequested("20261130T063000Z", DateTimeOffset.UtcNow, "schedule"));
        await TestHosts.EventuallyAsync(async () => (await pipeline.Meta.GetAsync(first.Id, CancellationToken.None))!.Sinks[BackupSinks.Public].RemovedAt,
            Timeout, "the public retention");
        Assert.Equal([$"increments/{first.Id}/{announced[1].IncrementId}.tgb", $"increments/{second.Id}/{announced[2].IncrementId}.tgb"], IncrementFiles(pipeline));
        Assert.Equal("1", GitServer.Run(pipeline.RepositoryPath, "rev-list", "--count", Branch).Trim());

        // Restore to the latest time after retention: the second snapshot and increments 2 and 3.
        var (latestUri, latest) = await RestoreTargetAsync();
        var restoreLatest = await CliProcess.RunAsync(pipeline.Cli, Timeout, "restore", "--from", "public", "--to-time", "latest", "--to-uri", latestUri);
        Assert.True(restoreLatest.ExitCode == 0, restoreLatest.Output);
        Assert.Contains($"snapshot {second.Id}, then", restoreLatest.Output);
        Assert.Contains("of 2 increments", restoreLatest.Output);
        Assert.Equal(atPhase3, await BackedUpContentAsync(latest));

        // Increment 3's file truncated on the branch: verify and restore refuse, the target keeps what it had.
        var truncatedFile = $"increments/{second.Id}/{announced[2].IncrementId}.tgb";
        Replace(pipeline, truncatedFile, GitServer.ReadBlob(pipeline.RepositoryPath, Branch, truncatedFile)[..^7]);
        var verify = await CliProcess.RunAsync(pipeline.Cli, Timeout, "verify", "--from", "public", "--to-time", "latest");
        Assert.Equal(1, verify.ExitCode);
        Assert.Contains($"Increment {announced[2].IncrementId}", verify.Output);
        var (targetUri, target) = await RestoreTargetAsync();
        await target.GetCollection<BsonDocument>("users").InsertOneAsync(new BsonDocument { { "_id", 1 }, { "precious", true } });
        var before = await RecordedHistory.ContentAsync(target);
        var truncated = await CliProcess.RunAsync(pipeline.Cli, Timeout, "restore", "--from", "public", "--to-time", "latest", "--to-uri", targetUri, "--drop");
        Assert.Equal(1, truncated.ExitCode);
        Assert.Contains($"Increment {announced[2].IncrementId}", truncated.Output);
        Assert.Equal(before, await RecordedHistory.ContentAsync(target));
        Assert.DoesNotContain(_git.Token, _logs.All);
        Assert.DoesNotContain(Convert.ToBase64String(_key), _logs.All);
    }

    [Fact]
    public async Task An_increment_announced_before_its_predecessor_waits_for_it_and_a_file_moved_to_another_increments_name_is_refused()
    {
        var pipeline = await StartAsync(new() { ["RETRY_LIMIT"] = "0" }); // waiting is not a failed attempt
        await pipeline.Database.GetCollection<BsonDocument>("users").InsertOneAsync(new BsonDocument { { "_id", 1 }, { "name", "one" } });
        var snapshot = await SnapshotAsync(pipeline, "20261130T070000Z");
        var written = await RecordedHistory.WriteEmptyIncrementsAsync(Path.Combine(_work.Path, "empty"), pipeline.Database.DatabaseNamespace.DatabaseName,
            snapshot.Id, snapshot.ClusterTime, 3);
        var announced = await StoreAllAsync(pipeline.Host.Services.GetRequiredService<IArtifactStore>(), pipeline.Increments, written);

        await pipeline.Bus.Publish(announced[0]);
        await CopiedAsync(pipeline, announced[0].IncrementId);

        // The third before the second: it is parked until the second's outcome here wakes it.
        await pipeline.Bus.Publish(announced[2]);
        var waiting = await ParkedOrSettledAsync(pipeline.Increments, BackupSinks.Public, announced[2].IncrementId, Timeout);
        Assert.Equal(SinkStatus.Waiting, waiting.Status);
        Assert.Contains($"waits for {announced[1].IncrementId}", waiting.Error);
        Assert.Equal([announced[0].IncrementId], IncrementTrailers(pipeline));

        await pipeline.Bus.Publish(announced[1]);
        foreach (var increment in announced.Skip(1))
        {
            var copy = (await CopiedAsync(pipeline, increment.IncrementId)).Sinks[BackupSinks.Public];
            Assert.True(copy.Status == SinkStatus.Succeeded, copy.Error);
        }

        Assert.Equal(announced.Select(i => i.IncrementId).Reverse(), IncrementTrailers(pipeline));
        var verified = await CliProcess.RunAsync(pipeline.Cli, Timeout, "verify", "--from", "public", "--to-time", "latest");
        Assert.True(verified.ExitCode == 0, verified.Output);

        // The second increment's file put in place of the third (a rollback by someone with push access): refused by its header.
        var third = $"increments/{snapshot.Id}/{announced[2].IncrementId}.tgb";
        Replace(pipeline, third, GitServer.ReadBlob(pipeline.RepositoryPath, Branch, $"increments/{snapshot.Id}/{announced[1].IncrementId}.tgb"));
        var swapped = await CliProcess.RunAsync(pipeline.Cli, Timeout, "verify", "--from", "public", "--to-time", "latest");
        Assert.Equal(1, swapped.ExitCode);
        Assert.Contains($"Increment {announced[2].IncrementId}: {third}", swapped.Output);
        Assert.Contains($"holds snapshot {announced[1].IncrementId}, not the requested snapshot {announced[2].IncrementId}", swapped.Output);
    }

    [Fact]
    public async Task Increments_of_another_database_on_the_branch_are_never_replayed_and_do_not_stop_a_restore_to_a_time()
    {
        var pipeline = await StartAsync();
        var history = await TwoIncrementsOnTheBranchAsync(pipeline, "20261130T080000Z");

        // Another database's history on the same branch (a shared branch, or files pushed from elsewhere with the same key),
        // over the same times and reaching later than this database's: an insert into "users" that must never be replayed here.
        const string otherChain = "20261130T040000Z";
        var insert = new BsonDocument
        {
            { "operationType", "insert" }, { "clusterTime", ChangeEventLine.ToBsonTimestamp(new ClusterTimestamp(history.SnapshotTime.T + 1, 1)) },
            { "ns", new BsonDocument { { "db", "other" }, { "coll", "users" } } }, { "documentKey", new BsonDocument("_id", 999) },
            { "fullDocument", new BsonDocument { { "_id", 999 }, { "name", "of another database" } } },
        };
        var other = await RecordedHistory.WriteIncrementsAsync(Path.Combine(_work.Path, "other"), "other", otherChain,
            new ClusterTimestamp(history.SnapshotTime.T - 60, 1), [insert], new ClusterTimestamp(history.End.T + 60, 1));
        Replace(pipeline, PublicIncrements.PathOf(otherChain, other[0].Manifest.IncrementId), await EncryptedFileAsync(other[0]));

        var (uri, target) = await RestoreTargetAsync();
        var restore = await CliProcess.RunAsync(pipeline.Cli, Timeout, "restore", "--from", "public", "--to-time", "latest", "--to-uri", uri);
        Assert.True(restore.ExitCode == 0, restore.Output);
        Assert.Contains($"snapshot {history.SnapshotId}, then", restore.Output);
        Assert.Contains("of 2 increments", restore.Output);
        Assert.Equal(history.AtEnd, await BackedUpContentAsync(target));
    }

    [Fact]
    public async Task An_increment_on_the_branch_twice_is_refused_with_a_clear_error_and_the_target_unchanged()
    {
        var pipeline = await StartAsync();
        var history = await TwoIncrementsOnTheBranchAsync(pipeline, "20261130T090000Z");

        // The second increment again under another base snapshot, which its manifest names (made with the key): each file
        // checks on its own, but the branch holds one increment twice.
        const string otherBase = "20261130T040000Z";
        var second = history.Written[1];
        var copyPath = PublicIncrements.PathOf(otherBase, second.Manifest.IncrementId);
        Replace(pipeline, copyPath, await EncryptedFileAsync(second with { Manifest = second.Manifest with { BaseSnapshotId = otherBase } }));

        var (uri, target) = await RestoreTargetAsync();
        await target.GetCollection<BsonDocument>("users").InsertOneAsync(new BsonDocument { { "_id", 1 }, { "precious", true } });
        var before = await RecordedHistory.ContentAsync(target);
        var restore = await CliProcess.RunAsync(pipeline.Cli, Timeout, "restore", "--from", "public", "--to-time", "latest", "--to-uri", uri, "--drop");
        Assert.Equal(1, restore.ExitCode);
        Assert.Contains($"Increment {second.Manifest.IncrementId}: {PublicIncrements.PathOf(history.SnapshotId, second.Manifest.IncrementId)} on ", restore.Output);
        Assert.Contains($"also at {copyPath}", restore.Output);
        Assert.Equal(before, await RecordedHistory.ContentAsync(target));
    }

    [Fact]
    public async Task A_file_already_at_an_increments_path_counts_as_copied_only_when_it_decrypts_to_the_artifact()
    {
        var pipeline = await StartAsync();
        await pipeline.Database.GetCollection<BsonDocument>("users").InsertOneAsync(new BsonDocument { { "_id", 1 }, { "name", "one" } });
        var snapshot = await SnapshotAsync(pipeline, "20261130T100000Z");
        var database = pipeline.Database.DatabaseNamespace.DatabaseName;
        var written = await RecordedHistory.WriteEmptyIncrementsAsync(Path.Combine(_work.Path, "increments"), database, snapshot.Id, snapshot.ClusterTime, 2);
        var announced = await StoreAllAsync(pipeline.Host.Services.GetRequiredService<IArtifactStore>(), pipeline.Increments, written);

        // The first increment's file already there in a commit of its own (as after a retention rewrite), encrypted anew:
        // other bytes, the same increment. Taken as copied, nothing committed.
        Replace(pipeline, PublicIncrements.PathOf(snapshot.Id, announced[0].IncrementId), await EncryptedFileAsync(written[0]));
        var head = Head(pipeline);
        await pipeline.Bus.Publish(announced[0]);
        var first = (await CopiedAsync(pipeline, announced[0].IncrementId)).Sinks[BackupSinks.Public];
        Assert.True(first.Status == SinkStatus.Succeeded, first.Error);
        Assert.Equal(head, first.LocationAs<PublicLocation>()!.Commit);
        Assert.Equal(head, Head(pipeline));

        // At the second's path a file that names it and decrypts with the key but holds another archive (it ends later):
        // refused, naming the path; the branch is left as it is.
        var other = await RecordedHistory.WriteIncrementsAsync(Path.Combine(_work.Path, "other"), database, snapshot.Id, snapshot.ClusterTime, [],
            written[0].Manifest.To, new ClusterTimestamp(snapshot.ClusterTime.T + 180, 1));
        var secondPath = PublicIncrements.PathOf(snapshot.Id, announced[1].IncrementId);
        var planted = await EncryptedFileAsync(other[1]);
        Replace(pipeline, secondPath, planted);
        head = Head(pipeline);
        await pipeline.Bus.Publish(announced[1]);
        var second = (await CopiedAsync(pipeline, announced[1].IncrementId)).Sinks[BackupSinks.Public];
        Assert.Equal(SinkStatus.Failed, second.Status);
        Assert.Contains($"{secondPath} on ", second.Error);
        Assert.Equal(head, Head(pipeline));
        Assert.Equal(planted, GitServer.ReadBlob(pipeline.RepositoryPath, Branch, secondPath));
        Assert.DoesNotContain(Convert.ToBase64String(_key), _logs.All);
    }

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.StopAsync();
            _host.Dispose();
        }

        if (_vhost is not null)
        {
            await _vhost.DisposeAsync();
        }

        _work.Dispose();
    }
}

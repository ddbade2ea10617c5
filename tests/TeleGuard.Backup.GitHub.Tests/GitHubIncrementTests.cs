using System.Formats.Tar;
using LibGit2Sharp;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.Cli;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Destinations.GitHub;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;
using static TeleGuard.Backup.TestSupport.AnnouncedIncrements;

namespace TeleGuard.Backup.GitHub.Tests;

/// <summary>
/// Increments through RabbitMQ to the private branch, and back: the snapshot service and the GitHub sink in one host
/// against the replica-set server and the git smart-HTTP server; increments recorded from the server's change stream
/// (<see cref="RecordedHistory"/>), stored in the artifact store and announced as the change recorder does; restores
/// to a time with the real program.
/// </summary>
public sealed class GitHubIncrementTests : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);
    private readonly TemporaryDirectory _work = new();
    private readonly GitServer _git = GitServer.FromEnvironment();
    private readonly CapturedLogs _logs = new();
    private IHost? _host;
    private RabbitMqVirtualHost? _vhost;

    private sealed record Pipeline(IHost Host, IMongoDatabase Database, BackupsMetaStore Meta, IncrementsStore Increments, IBus Bus,
        Uri RepositoryUrl, string RepositoryPath, Dictionary<string, string?> Cli, Dictionary<string, string?> Settings);

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
            ["GITHUB_TOKEN"] = _git.Token,
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
            ["GITHUB_REPO"] = url.ToString(),
            ["GITHUB_TOKEN"] = _git.Token,
            ["SNAPSHOT_DIR"] = Path.Combine(_work.Path, "cli"),
            ["LOG_FORMAT"] = "text",
        };
        return new Pipeline(_host, database, _host.Services.GetRequiredService<BackupsMetaStore>(), _host.Services.GetRequiredService<IncrementsStore>(),
            _host.Services.GetRequiredService<IBus>(), url, path, cli, settings);
    }

    private static async Task<(string Id, ClusterTimestamp ClusterTime)> SnapshotAsync(Pipeline pipeline, string id)
    {
        await pipeline.Bus.Publish(new SnapshotRequested(id, DateTimeOffset.UtcNow, "schedule"));
        var record = await TestHosts.EventuallyAsync(
            async () => await pipeline.Meta.GetAsync(id, CancellationToken.None) is { } r && BackupStatus.IsFinal(r.Status) ? r : null, Timeout, $"snapshot {id}");
        Assert.Equal(BackupStatus.Complete, record.Status);
        return (id, ChangeEventLine.ToClusterTimestamp(record.Manifest!.ClusterTime!));
    }

    private static Task<IncrementRecord> CopiedAsync(Pipeline pipeline, string incrementId) =>
        AnnouncedIncrements.CopiedAsync(pipeline.Increments, BackupSinks.GitHub, incrementId, Timeout);

    /// <summary>The artifact's two entries as stored: the manifest's and the events' bytes.</summary>
    private static async Task<(byte[] Manifest, byte[] Events)> ArtifactEntriesAsync(Pipeline pipeline, IncrementCreated increment)
    {
        await using var artifact = await pipeline.Host.Services.GetRequiredService<IArtifactStore>().OpenReadAsync(increment.ArtifactLocation, CancellationToken.None);
        await using var tar = new TarReader(artifact);
        var entries = new List<byte[]>();
        while (await tar.GetNextEntryAsync() is { } entry)
        {
            using var bytes = new MemoryStream();
            await entry.DataStream!.CopyToAsync(bytes);
            entries.Add(bytes.ToArray());
        }

        Assert.Equal(2, entries.Count);
        return (entries[0], entries[1]);
    }

    /// <summary>Publishes an increment again and waits until this destination has handled the delivery.</summary>
    private async Task RedeliverAsync(Pipeline pipeline, IncrementCreated increment)
    {
        var handled = $"github: increment {increment.IncrementId} was already copied";
        var before = _logs.All.Split(handled).Length;
        await pipeline.Bus.Publish(increment);
        await TestHosts.EventuallyAsync(() => Task.FromResult(_logs.All.Split(handled).Length > before ? "seen" : null), Timeout, $"the redelivery of {increment.IncrementId} to be handled");
    }

    private static List<string> IncrementFiles(Pipeline pipeline) =>
        GitServer.Run(pipeline.RepositoryPath, "ls-tree", "-r", "--name-only", "backups", "increments/").Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();

    private static List<string> IncrementTrailers(Pipeline pipeline) =>
        GitServer.Run(pipeline.RepositoryPath, "log", "--format=%(trailers:key=Increment-Id,valueonly,separator=)", "backups")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();

    /// <summary>Changes one byte of a file at the branch head on the server, as anyone with push access could.</summary>
    private static void Tamper(Pipeline pipeline, string file)
    {
        using var repository = new Repository(pipeline.RepositoryPath);
        var head = repository.Branches["backups"].Tip;
        var bytes = ((Blob)head[file].Target).GetContentText().ToCharArray();
        var at = Array.IndexOf(bytes, '"', bytes.Length / 2);
        bytes[at + 1] = bytes[at + 1] == 'x' ? 'y' : 'x';
        var tree = TreeDefinition.From(head.Tree);
        tree.Add(file, repository.ObjectDatabase.CreateBlob(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(bytes))), Mode.NonExecutableFile);
        var signature = new LibGit2Sharp.Signature("mallory", "m@example.org", DateTimeOffset.UtcNow);
        var commit = repository.ObjectDatabase.CreateCommit(signature, signature, "tampered", repository.ObjectDatabase.CreateTree(tree), [head], false);
        repository.Refs.UpdateTarget(repository.Refs["refs/heads/backups"], commit.Id, "tamper");
    }

    [Fact]
    public async Task Increments_are_committed_once_beside_their_base_snapshot_restore_to_a_time_compaction_keeps_those_after_the_kept_snapshot_and_tampering_is_refused()
    {
        var pipeline = await StartAsync();
        var (first, second, phase1, end, atPhase1, atPhase3, written, announced) = await IncrementScenario.RecordAsync(pipeline.Database,
            id => SnapshotAsync(pipeline, id), "new", Path.Combine(_work.Path, "increments"), pipeline.Host.Services.GetRequiredService<IArtifactStore>(), pipeline.Increments);

        foreach (var increment in announced)
        {
            await pipeline.Bus.Publish(increment);
            var record = await CopiedAsync(pipeline, increment.IncrementId);
            var github = record.Sinks[BackupSinks.GitHub];
            Assert.True(github.Status == SinkStatus.Succeeded, github.Error);
            Assert.Equal(1, github.Attempts);
            Assert.Equal(GitServer.Run(pipeline.RepositoryPath, "rev-parse", "backups").Trim(), github.LocationAs<GitHubLocation>()!.Commit);
        }

        // Each in its base snapshot's folder, with the artifact's bytes.
        foreach (var increment in announced)
        {
            var (manifest, events) = await ArtifactEntriesAsync(pipeline, increment);
            Assert.Equal(manifest, GitServer.ReadBlob(pipeline.RepositoryPath, "backups", $"increments/{increment.BaseSnapshotId}/{increment.IncrementId}.json"));
            Assert.Equal(events, GitServer.ReadBlob(pipeline.RepositoryPath, "backups", $"increments/{increment.BaseSnapshotId}/{increment.IncrementId}.jsonl"));
        }

        Assert.Equal(6, IncrementFiles(pipeline).Count);
        Assert.Equal(2, IncrementFiles(pipeline).Count(f => f.StartsWith($"increments/{second.Id}/", StringComparison.Ordinal)));
        Assert.True(written[0].Manifest.Events >= 3 && written[1].Manifest.Events >= 2 && written[2].Manifest.Events >= 2);

        // A redelivery of a copied increment changes nothing: no second commit.
        await RedeliverAsync(pipeline, announced[0]);
        Assert.Equal(announced.Select(i => i.IncrementId).Reverse(), IncrementTrailers(pipeline));

        // status: the window of a restore to a time from the branch, from the first snapshot to the last increment.
        var status = await CliProcess.RunAsync(pipeline.Settings, Timeout, "status");
        Assert.True(status.ExitCode == 0, status.Output);
        Assert.Contains($"github: from {Iso(first.ClusterTime)} to {Iso(end)}", status.Output);

        // Restore to the end of phase 1 (from the first snapshot) equals the database then, byte for byte.
        var (thenUri, then) = await RestoreTargetAsync();
        var restoreThen = await CliProcess.RunAsync(pipeline.Cli, Timeout, "restore", "--from", "github", "--to-time", Iso(phase1), "--to-uri", thenUri);
        Assert.True(restoreThen.ExitCode == 0, restoreThen.Output);
        Assert.Contains($"as of {Iso(phase1)}: snapshot {first.Id}", restoreThen.Output);
        Assert.Equal(atPhase1, await BackedUpContentAsync(then));

        // Compaction keeps the second snapshot and the increments that end after it (2, filed under the first, and 3).
        await pipeline.Bus.Publish(new CleanupRequested("20261130T063000Z", DateTimeOffset.UtcNow, "schedule"));
        await TestHosts.EventuallyAsync(async () => (await pipeline.Meta.GetAsync(second.Id, CancellationToken.None))!
            .Sinks[BackupSinks.GitHub].LocationAs<GitHubLocation>()!.CompactedAt, Timeout, "the compaction");
        Assert.Equal(
            [$"increments/{first.Id}/{announced[1].IncrementId}.json", $"increments/{first.Id}/{announced[1].IncrementId}.jsonl",
             $"increments/{second.Id}/{announced[2].IncrementId}.json", $"increments/{second.Id}/{announced[2].IncrementId}.jsonl"],
            IncrementFiles(pipeline));
        Assert.DoesNotContain(first.Id, GitServer.Run(pipeline.RepositoryPath, "log", "--format=%(trailers:key=Snapshot-Id,valueonly,separator=)", "backups"));

        // A late redelivery of an increment that compaction removed does not put it back.
        var filesAfterCompaction = IncrementFiles(pipeline);
        await RedeliverAsync(pipeline, announced[0]);
        Assert.Equal(filesAfterCompaction, IncrementFiles(pipeline));

        // Restore to the latest time after compaction: the second snapshot and increments 2 and 3.
        var (latestUri, latest) = await RestoreTargetAsync();
        var restoreLatest = await CliProcess.RunAsync(pipeline.Cli, Timeout, "restore", "--from", "github", "--to-time", "latest", "--to-uri", latestUri);
        Assert.True(restoreLatest.ExitCode == 0, restoreLatest.Output);
        Assert.Contains($"snapshot {second.Id}, then", restoreLatest.Output);
        Assert.Contains("of 2 increments", restoreLatest.Output);
        Assert.Equal(atPhase3, await BackedUpContentAsync(latest));

        // One byte of increment 3's events changed on the branch: verify and restore refuse, the target keeps what it had.
        Tamper(pipeline, $"increments/{second.Id}/{announced[2].IncrementId}.jsonl");
        var verify = await CliProcess.RunAsync(pipeline.Cli, Timeout, "verify", "--from", "github", "--to-time", "latest");
        Assert.Equal(1, verify.ExitCode);
        Assert.Contains($"Increment {announced[2].IncrementId}", verify.Output);
        var (targetUri, target) = await RestoreTargetAsync();
        await target.GetCollection<BsonDocument>("users").InsertOneAsync(new BsonDocument { { "_id", 1 }, { "precious", true } });
        var before = await RecordedHistory.ContentAsync(target);
        var tampered = await CliProcess.RunAsync(pipeline.Cli, Timeout, "restore", "--from", "github", "--to-time", "latest", "--to-uri", targetUri, "--drop");
        Assert.Equal(1, tampered.ExitCode);
        Assert.Contains($"Increment {announced[2].IncrementId}", tampered.Output);
        Assert.Equal(before, await RecordedHistory.ContentAsync(target));
        Assert.DoesNotContain(_git.Token, _logs.All);
    }

    private async Task<(Pipeline Pipeline, List<IncrementCreated> Announced)> EmptyChainAsync(Dictionary<string, string?> overrides, string chain, int count = 4)
    {
        var pipeline = await StartAsync(overrides);
        var written = await RecordedHistory.WriteEmptyIncrementsAsync(Path.Combine(_work.Path, "empty"), pipeline.Database.DatabaseNamespace.DatabaseName,
            chain, new ClusterTimestamp(1_796_000_000, 1), count);
        var announced = await StoreAllAsync(pipeline.Host.Services.GetRequiredService<IArtifactStore>(), pipeline.Increments, written);

        await pipeline.Bus.Publish(announced[0]);
        Assert.Equal(SinkStatus.Succeeded, (await CopiedAsync(pipeline, announced[0].IncrementId)).Sinks[BackupSinks.GitHub].Status);
        return (pipeline, announced);
    }

    private static Task<SinkRecord> ParkedAsync(Pipeline pipeline, IncrementCreated increment) =>
        ParkedOrSettledAsync(pipeline.Increments, BackupSinks.GitHub, increment.IncrementId, Timeout);

    [Fact]
    public async Task Increments_announced_before_their_predecessor_are_parked_without_spending_retries_and_the_branch_gets_them_in_order()
    {
        // No retries at all: waiting for a predecessor must not be a failed attempt (a slow predecessor outlasts any budget).
        const string chain = "20261130T070000Z";
        var (pipeline, announced) = await EmptyChainAsync(new() { ["RETRY_LIMIT"] = "0" }, chain);

        // The fourth, then the third, before the second: both parked (the third for the second, the fourth for the third).
        await pipeline.Bus.Publish(announced[3]);
        var fourth = await ParkedAsync(pipeline, announced[3]);
        Assert.Equal(SinkStatus.Waiting, fourth.Status);
        Assert.Contains($"waits for {announced[2].IncrementId}", fourth.Error);
        await pipeline.Bus.Publish(announced[2]);
        var third = await ParkedAsync(pipeline, announced[2]);
        Assert.Equal(SinkStatus.Waiting, third.Status);
        Assert.Contains($"waits for {announced[1].IncrementId}", third.Error);
        Assert.Equal([announced[0].IncrementId], IncrementTrailers(pipeline));

        // The second's outcome wakes the third, whose outcome wakes the fourth.
        await pipeline.Bus.Publish(announced[1]);
        foreach (var increment in announced.Skip(1))
        {
            var github = (await CopiedAsync(pipeline, increment.IncrementId)).Sinks[BackupSinks.GitHub];
            Assert.True(github.Status == SinkStatus.Succeeded, github.Error);
            Assert.Equal(1, github.Attempts);
        }

        Assert.Equal(announced.Select(i => i.IncrementId).Reverse(), IncrementTrailers(pipeline));
        Assert.Equal(8, IncrementFiles(pipeline).Count(f => f.StartsWith($"increments/{chain}/", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_predecessor_whose_message_was_lost_is_announced_again_after_the_wait_and_the_branch_stays_unbroken()
    {
        const string chain = "20261130T080000Z";
        var (pipeline, announced) = await EmptyChainAsync(new() { [SinkLeaseOptionsVariable] = "3" }, chain);

        // The second's announcement is lost on its way to this destination. The third is parked for it.
        await pipeline.Bus.Publish(announced[2]);
        var third = await ParkedAsync(pipeline, announced[2]);
        Assert.Equal(SinkStatus.Waiting, third.Status);

        // Once the line has waited INCREMENT_WAIT_SECONDS without progress, the next increment to park (the fourth, one
        // period later) announces the second here again; the second's outcome wakes the third, whose outcome wakes the fourth.
        while (DateTime.UtcNow - third.WaitingSince!.Value < TimeSpan.FromSeconds(3.5))
        {
            await Task.Delay(250);
        }

        await pipeline.Bus.Publish(announced[3]);
        foreach (var increment in announced.Skip(1))
        {
            var github = (await CopiedAsync(pipeline, increment.IncrementId)).Sinks[BackupSinks.GitHub];
            Assert.True(github.Status == SinkStatus.Succeeded, github.Error);
        }

        Assert.Contains($"github: increment {announced[1].IncrementId} showed no progress here for 3 s while later ones wait for it; announced here again", _logs.All);
        Assert.Equal(announced.Select(i => i.IncrementId).Reverse(), IncrementTrailers(pipeline));
    }

    [Fact]
    public async Task Two_lost_predecessors_in_a_row_leave_one_hole_and_the_line_behind_them_goes_on_after_one_wait()
    {
        const string chain = "20261130T100000Z";
        var (pipeline, announced) = await EmptyChainAsync(new() { [SinkLeaseOptionsVariable] = "3" }, chain, count: 5);

        // The second's and the third's announcements are both lost here (or this destination started after them).
        await pipeline.Bus.Publish(announced[3]);
        var fourth = await ParkedAsync(pipeline, announced[3]);
        Assert.Equal(SinkStatus.Waiting, fourth.Status);
        while (DateTime.UtcNow - fourth.WaitingSince!.Value < TimeSpan.FromSeconds(3.5))
        {
            await Task.Delay(250);
        }

        // The fifth parks and announces the third again; the third does not wait for the second in turn (that would
        // walk back one wait at a time): it goes ahead, and wakes the fourth, which wakes the fifth.
        await pipeline.Bus.Publish(announced[4]);
        foreach (var increment in announced.Skip(2))
        {
            var github = (await CopiedAsync(pipeline, increment.IncrementId)).Sinks[BackupSinks.GitHub];
            Assert.True(github.Status == SinkStatus.Succeeded, github.Error);
        }

        Assert.Contains($"github: increment {announced[2].IncrementId}, announced again, goes ahead without {announced[1].IncrementId}", _logs.All);
        Assert.Equal([announced[4].IncrementId, announced[3].IncrementId, announced[2].IncrementId, announced[0].IncrementId], IncrementTrailers(pipeline));
    }

    [Fact]
    public async Task A_parked_increment_that_missed_its_wake_up_is_sent_again_when_the_next_one_parks()
    {
        const string chain = "20261130T090000Z";
        var (pipeline, announced) = await EmptyChainAsync([], chain);
        await pipeline.Bus.Publish(announced[1]);
        Assert.Equal(SinkStatus.Succeeded, (await CopiedAsync(pipeline, announced[1].IncrementId)).Sinks[BackupSinks.GitHub].Status);

        // The third is parked but its wake-up was lost (the second's service died between recording its outcome and
        // sending it): it stays parked although the second is on the branch. The fourth parks behind it and repairs that.
        await pipeline.Increments.RecordSinkWaitingAsync(announced[2].IncrementId, BackupSinks.GitHub, "parked before the crash", DateTime.UtcNow, CancellationToken.None);
        await pipeline.Bus.Publish(announced[3]);
        foreach (var increment in announced.Skip(2))
        {
            var github = (await CopiedAsync(pipeline, increment.IncrementId)).Sinks[BackupSinks.GitHub];
            Assert.True(github.Status == SinkStatus.Succeeded, github.Error);
        }

        Assert.Contains($"github: increment {announced[2].IncrementId} missed its wake-up after {announced[1].IncrementId}'s outcome; sent again", _logs.All);
        Assert.Equal(announced.Select(i => i.IncrementId).Reverse(), IncrementTrailers(pipeline));
    }

    private const string SinkLeaseOptionsVariable = TeleGuard.Backup.Destinations.SinkLeaseOptions.IncrementWaitVariable;

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

using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.Cli;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Destinations.GitHub;
using TeleGuard.Backup.Destinations.Public;
using TeleGuard.Backup.Destinations.Telegram;
using TeleGuard.Backup.Export;
using TeleGuard.Backup.Scheduling;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Reliability.Tests;

/// <summary>
/// The servers the pipeline depends on go away (a proxy in front of each cuts every connection and refuses new ones):
/// the broker's connections mid-snapshot (the shared broker itself is never restarted), MongoDB while a sink records
/// its result, Redis for a whole snapshot, the git server for a whole snapshot.
/// </summary>
public sealed class OutageTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task Cutting_every_broker_connection_during_a_snapshot_loses_nothing_and_duplicates_nothing()
    {
        await using var pipeline = await Pipeline.CreateAsync(rabbitMq: true);
        var broker = FaultProxy.For(pipeline.Settings["RABBITMQ_URI"]!);
        pipeline.Track(broker);
        var host = await pipeline.StartHostAsync(overrides: new Dictionary<string, string?> { ["RABBITMQ_URI"] = broker.Through(pipeline.Settings["RABBITMQ_URI"]!) });
        var hold = new SendHold(call: 1);
        pipeline.Telegram.HoldOnSend = hold;

        var id = await Pipeline.RequestSnapshotAsync(host);
        Assert.True(await Task.WhenAny(hold.Arrived.Task, Task.Delay(Timeout)) == hold.Arrived.Task, pipeline.ProcessOutput);

        // The other destinations have their copy: the Telegram delivery is the one in flight.
        foreach (var queue in new[] { "teleguard-github", "teleguard-public" })
        {
            Assert.Null(Assert.Single(await pipeline.Consumed.WaitForAsync<SnapshotCreated>(1, Timeout, queue)).Fault);
        }

        // Every connection to the broker is cut while the Telegram upload is in flight (its delivery cannot be
        // acknowledged), and the broker stays unreachable until the bus has tried to reconnect.
        broker.Cut();
        await TestHosts.EventuallyAsync(() => Task.FromResult(broker.RefusedConnections > 0 ? "refused" : null), Timeout,
            "the bus to try to reconnect while the broker is unreachable");
        broker.Restore();
        hold.Release.TrySetResult();

        var record = await pipeline.FinishedAsync(id, Timeout);
        Assert.True(record.Status == BackupStatus.Complete, pipeline.ProcessOutput);
        // The delivery in flight was cancelled with its connection; the broker delivered it again on the new one, and
        // that delivery made the copy.
        var telegram = await pipeline.Consumed.WaitForAsync<SnapshotCreated>(2, Timeout, "teleguard-telegram");
        Assert.Equal(2, telegram.Count);
        Assert.IsAssignableFrom<OperationCanceledException>(telegram[0].Fault);
        Assert.True(telegram[1].Redelivered && telegram[1].Fault is null, $"{telegram[1]}\n{pipeline.ProcessOutput}");
        Assert.Equal(1, pipeline.LogLinesContaining($"telegram: snapshot {id} copied:"));
        pipeline.AssertExactlyOneCopyEverywhere(record);
        // MassTransit logs each connection it opens: the first one, and the one after the broker came back.
        Assert.True(pipeline.Logs.Lines.Count(l => l.Contains("MassTransit: Connected:", StringComparison.Ordinal)) >= 2, pipeline.ProcessOutput);
    }

    [Fact]
    public async Task While_MongoDB_is_unreachable_sink_results_wait_in_Redis_status_shows_degraded_and_they_reach_backups_meta_once_it_is_back()
    {
        await using var pipeline = await Pipeline.CreateAsync(rabbitMq: true);
        var mongo = FaultProxy.For(pipeline.MongoUri);
        pipeline.Track(mongo);
        var mongoThroughProxy = mongo.Through(pipeline.MongoUri) + "?directConnection=true&serverSelectionTimeoutMS=2000&connectTimeoutMS=2000";
        // Every service reaches MongoDB through the proxy (the test itself reads backups_meta directly).
        var throughProxy = new Dictionary<string, string?> { ["MONGODB_URI"] = mongoThroughProxy };
        await pipeline.StartHostAsync(b => b.AddSnapshotService().AddGitHubSinkService().AddPublicSinkService(), throughProxy);
        var telegramHost = await pipeline.StartHostAsync(b => b.AddTelegramSinkService(), throughProxy);
        var hold = new SendHold(call: 1);
        pipeline.Telegram.HoldOnSend = hold;

        var id = await Pipeline.RequestSnapshotAsync(telegramHost);
        Assert.True(await Task.WhenAny(hold.Arrived.Task, Task.Delay(Timeout)) == hold.Arrived.Task, pipeline.ProcessOutput);
        mongo.Cut(); // the Telegram sink loses MongoDB between reading the artifact and recording what it sent
        hold.Release.TrySetResult();

        var fallback = telegramHost.Services.GetRequiredService<BackupsMetaStore>();
        var pending = await TestHosts.EventuallyAsync(async () =>
        {
            var writes = await fallback.ListPendingAsync(CancellationToken.None);
            return writes.Any(w => w.Kind == PendingMetaWrite.Outcome && w.Sink == BackupSinks.Telegram) ? writes : null;
        }, Timeout, "the Telegram outcome to wait in Redis");
        Assert.Contains(pending, w => w.SnapshotId == id && w.Sink == BackupSinks.Telegram && w.Status == SinkStatus.Succeeded);
        Assert.Equal(SinkStatus.Running, (await pipeline.Meta.GetAsync(id, CancellationToken.None))!.Sinks[BackupSinks.Telegram].Status);

        // What an operator sees meanwhile, with the same settings as the Telegram sink.
        var status = await CliProcess.RunAsync(new Dictionary<string, string?>(pipeline.Settings) { ["MONGODB_URI"] = mongoThroughProxy }, Timeout, "status");
        Assert.Equal(1, status.ExitCode);
        Assert.Contains("backups_meta is unreachable", status.StandardOutput);
        Assert.True(status.StandardOutput.Contains($"Snapshot {id}: degraded (backups_meta unreachable)", StringComparison.Ordinal), status.Output + pipeline.Logs.All);
        Assert.Contains("telegram: succeeded", status.StandardOutput);

        mongo.Restore();
        var record = await pipeline.FinishedAsync(id, Timeout);
        Assert.True(record.Status == BackupStatus.Complete, pipeline.ProcessOutput);
        Assert.Empty(await fallback.ListPendingAsync(CancellationToken.None));
        pipeline.AssertExactlyOneCopyEverywhere(record);
        Assert.Equal(1, record.Sinks[BackupSinks.Telegram].Attempts);

        // A redelivery after the replay finds the recorded result: every sink consumes it and says so.
        var artifact = record.Artifact!;
        var consumedBefore = BackupSinks.All.ToDictionary(s => s, s => pipeline.Consumed.Of<SnapshotCreated>($"teleguard-{s}").Count);
        var alreadyCopiedBefore = BackupSinks.All.ToDictionary(s => s, s => pipeline.LogLinesContaining($"{s}: snapshot {id} already copied"));
        await telegramHost.Services.GetRequiredService<IBus>().Publish(
            new SnapshotCreated(id, DateTimeOffset.UtcNow, artifact.Location, artifact.Size, artifact.Sha256, record.Manifest!.Collections.Count, record.Manifest.Documents));
        foreach (var sink in BackupSinks.All)
        {
            var redelivery = (await pipeline.Consumed.WaitForAsync<SnapshotCreated>(consumedBefore[sink] + 1, Timeout, $"teleguard-{sink}"))[^1];
            Assert.Null(redelivery.Fault);
            Assert.Equal(alreadyCopiedBefore[sink] + 1, pipeline.LogLinesContaining($"{sink}: snapshot {id} already copied"));
        }

        var afterRedelivery = (await pipeline.Meta.GetAsync(id, CancellationToken.None))!;
        pipeline.AssertExactlyOneCopyEverywhere(afterRedelivery);
        Assert.All(BackupSinks.All, s => Assert.Equal(record.Sinks[s].Attempts, afterRedelivery.Sinks[s].Attempts));
    }

    [Fact]
    public async Task Without_Redis_the_pipeline_still_completes_and_two_schedulers_requesting_one_slot_make_one_snapshot()
    {
        await using var pipeline = await Pipeline.CreateAsync(rabbitMq: false);
        pipeline.Settings["REDIS_URL"] = "redis://127.0.0.1:1"; // nothing listens there
        var host = await pipeline.StartHostAsync(b => b.AddAllBackupServices(includeScheduler: true),
            new Dictionary<string, string?> { ["BACKUP_SCHEDULE"] = "0 0 1 1 *", ["CLEANUP_SCHEDULE"] = "0 0 1 1 *", ["SCHEDULER_CATCH_UP"] = "false" });

        var slot = DateTimeOffset.UtcNow.AddSeconds(-1);
        slot = new DateTimeOffset(slot.Year, slot.Month, slot.Day, slot.Hour, slot.Minute, slot.Second, TimeSpan.Zero);
        var published = await Task.WhenAll(Enumerable.Range(0, 2).Select(async _ =>
        {
            await using var scope = host.Services.CreateAsyncScope();
            return await scope.ServiceProvider.GetRequiredService<SlotRequester>().RequestAsync(ScheduleKind.Backup, slot, "schedule", CancellationToken.None);
        }));
        Assert.Equal([SlotRequest.Published, SlotRequest.Published], published); // no lock service: both publish, the snapshot id makes it one snapshot

        var id = TeleGuard.Backup.SnapshotFormat.SnapshotIds.FromTime(slot);
        var record = await pipeline.FinishedAsync(id, Timeout);
        Assert.True(record.Status == BackupStatus.Complete, pipeline.ProcessOutput);
        pipeline.AssertExactlyOneCopyEverywhere(record);
        Assert.Equal(1, record.Export!.Attempts);
        var files = pipeline.Database.Client.GetDatabase(pipeline.Database.DatabaseNamespace.DatabaseName + "_backup").GetCollection<BsonDocument>("teleguard_artifacts.files");
        Assert.Equal(1, await files.CountDocumentsAsync(Builders<BsonDocument>.Filter.Regex("filename", new BsonRegularExpression(id))));
        Assert.Contains("Redis", pipeline.Logs.All);
    }

    [Fact]
    public async Task With_the_git_server_down_the_other_destinations_complete_git_sinks_fail_visibly_and_the_next_snapshot_succeeds_once_it_is_back()
    {
        await using var pipeline = await Pipeline.CreateAsync(rabbitMq: true);
        var git = FaultProxy.For(pipeline.Settings["GITHUB_REPO"]!);
        pipeline.Track(git);
        pipeline.Settings["GITHUB_REPO"] = git.Through(pipeline.Settings["GITHUB_REPO"]!);
        pipeline.Settings["GITHUB_PUBLIC_REPO"] = git.Through(pipeline.Settings["GITHUB_PUBLIC_REPO"]!);
        var host = await pipeline.StartHostAsync();
        git.Cut();

        var first = await Pipeline.RequestSnapshotAsync(host);
        var record = await pipeline.FinishedAsync(first, Timeout);
        Assert.Equal(BackupStatus.Degraded, record.Status);
        Assert.Equal(SinkStatus.Succeeded, record.Sinks[BackupSinks.Telegram].Status);
        foreach (var sink in new[] { BackupSinks.GitHub, BackupSinks.Public })
        {
            var outcome = record.Sinks[sink];
            Assert.Equal(SinkStatus.Failed, outcome.Status);
            Assert.Equal(3, outcome.Attempts); // the first try and RETRY_LIMIT=2 retries with backoff
            Assert.False(string.IsNullOrWhiteSpace(outcome.Error));
            Assert.Contains($"{sink}: snapshot {first} failed", pipeline.Logs.All);
        }

        // The faulted deliveries are kept in the _error queues, not discarded.
        foreach (var queue in new[] { "teleguard-github_error", "teleguard-public_error" })
        {
            await TestHosts.EventuallyAsync(async () => await pipeline.Broker!.CountMessagesAsync(queue) == 1 ? (object?)true : null,
                TimeSpan.FromSeconds(30), $"one message in {queue}");
        }

        git.Restore();
        await Task.Delay(TimeSpan.FromSeconds(1.1)); // snapshot ids have one-second resolution
        var second = await Pipeline.RequestSnapshotAsync(host);
        var next = await pipeline.FinishedAsync(second, Timeout);
        Assert.True(next.Status == BackupStatus.Complete, pipeline.ProcessOutput);
        pipeline.AssertExactlyOneCopyEverywhere(next);
        Assert.Empty(pipeline.CommitsFor(Pipeline.PrivateBranch, first));
    }
}

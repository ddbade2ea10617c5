using Microsoft.Extensions.Time.Testing;
using TeleGuard.Backup.Destinations.GitHub;
using TeleGuard.Backup.Destinations.Public;
using TeleGuard.Backup.Destinations.Telegram;
using TeleGuard.Backup.Export;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Reliability.Tests;

/// <summary>
/// kill -9 of each sink service in the middle of its work: the GitHub and public sinks while their push is on the wire
/// (held by a proxy in front of the git server), the Telegram sink while part 2 of 3 is being uploaded. After a restart
/// the snapshot completes everywhere, with no second commit, public file or Telegram part, and backups_meta says where
/// each copy is. (Killing the snapshot service mid-export is SnapshotCommandTests' kill -9 test.)
/// </summary>
public sealed class CrashRecoveryTests
{
    private static readonly string[] Sinks = ["TeleGuard.Backup.GitHub", "TeleGuard.Backup.Public", "TeleGuard.Backup.Telegram"];

    [Fact]
    public async Task Sinks_killed_mid_push_and_mid_upload_finish_after_restart_with_exactly_one_copy_each()
    {
        await using var pipeline = await Pipeline.CreateAsync(rabbitMq: true, documents: 3200, documentBytes: 1000);
        var gitProxy = FaultProxy.For(pipeline.Settings["GITHUB_REPO"]!);
        pipeline.Track(gitProxy);
        pipeline.Settings["GITHUB_REPO"] = gitProxy.Through(pipeline.Settings["GITHUB_REPO"]!);
        pipeline.Settings["GITHUB_PUBLIC_REPO"] = gitProxy.Through(pipeline.Settings["GITHUB_PUBLIC_REPO"]!);
        pipeline.Settings["TELEGRAM_PART_SIZE_MB"] = "1"; // ~2.4 MB gzipped archive → 3 parts

        gitProxy.StallRequestsContaining("/git-receive-pack HTTP/1.1");
        var hold = new SendHold(call: 2);
        pipeline.Telegram.HoldOnSend = hold;

        await pipeline.StartServiceAsync("TeleGuard.Backup.Snapshot");
        var sinks = await Task.WhenAll(Sinks.Select(pipeline.StartServiceAsync));
        var id = await pipeline.RequestSnapshotAsync();

        Assert.True(await Task.WhenAny(hold.Arrived.Task, Task.Delay(TimeSpan.FromMinutes(2))) == hold.Arrived.Task, pipeline.ProcessOutput);
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (gitProxy.StalledRequests < 2)
        {
            Assert.True(DateTime.UtcNow < deadline, $"Both git pushes should be on the wire; {gitProxy.StalledRequests} are.\n{pipeline.ProcessOutput}");
            await Task.Delay(200);
        }
        foreach (var sink in sinks)
        {
            sink.Kill();
        }

        // Nothing half-done reached a destination: no commit, one Telegram part of three. (The held upload is never
        // released: its client is dead. A part Telegram accepts after its uploader died is the documented window.)
        gitProxy.StopStalling();
        pipeline.Telegram.HoldOnSend = null;
        Assert.Empty(pipeline.CommitsFor(Pipeline.PrivateBranch, id));
        Assert.Empty(pipeline.CommitsFor(Pipeline.PublicBranch, id));
        Assert.Single(pipeline.TelegramMessagesFor(id));
        var during = await pipeline.Meta.GetAsync(id, CancellationToken.None);
        Assert.All(BackupSinks.All, sink => Assert.Equal(SinkStatus.Running, during!.Sinks[sink].Status));

        await Task.WhenAll(Sinks.Select(pipeline.StartServiceAsync));

        var record = await pipeline.FinishedAsync(id);
        Assert.True(record.Status == BackupStatus.Complete, pipeline.ProcessOutput);
        pipeline.AssertExactlyOneCopyEverywhere(record);
        Assert.Equal(3, pipeline.TelegramMessagesFor(id).Count);
        Assert.All(BackupSinks.All, sink => Assert.Equal(2, record.Sinks[sink].Attempts));
        Assert.All(BackupSinks.All, sink => Assert.Null(record.Sinks[sink].Owner));
    }

    /// <summary>
    /// kill -9 of the Telegram sink after Telegram accepted part 2 of 3 and before the sink heard its message id: the
    /// retry sends part 2 again, so the first message is known to no record. It must still be reachable: the intent
    /// recorded before the send becomes a range of message ids holding it, and the next cleanup after the snapshot's
    /// window deletes it with the snapshot's parts.
    /// </summary>
    [Fact]
    public async Task A_part_Telegram_accepted_when_its_sink_was_killed_is_recorded_and_deleted_by_the_next_cleanup_after_its_window()
    {
        await using var pipeline = await Pipeline.CreateAsync(rabbitMq: true, documents: 3200, documentBytes: 1000);
        pipeline.Settings["TELEGRAM_PART_SIZE_MB"] = "1"; // ~2.4 MB gzipped archive → 3 parts
        var accepted = new SendHold(call: 2);
        pipeline.Telegram.HoldResponseOnSend = accepted;
        var host = await pipeline.StartHostAsync(b => b.AddSnapshotService().AddGitHubSinkService().AddPublicSinkService());
        var sink = await pipeline.StartServiceAsync("TeleGuard.Backup.Telegram");
        var id = await Pipeline.RequestSnapshotAsync(host);

        Assert.True(await Task.WhenAny(accepted.Arrived.Task, Task.Delay(TimeSpan.FromMinutes(2))) == accepted.Arrived.Task, pipeline.ProcessOutput);
        sink.Kill(); // Telegram has part 2; the sink never learnt its message id
        pipeline.Telegram.HoldResponseOnSend = null;
        var orphan = accepted.Accepted!;
        var during = (await pipeline.Meta.GetAsync(id, CancellationToken.None))!.Sinks[BackupSinks.Telegram].LocationAs<TelegramLocation>()!;
        Assert.Equal(2, during.Sending!.Index); // the intent went to backups_meta before the part
        Assert.DoesNotContain(orphan.Id, during.Parts.Select(p => p.MessageId));

        await pipeline.StartServiceAsync("TeleGuard.Backup.Telegram");
        var record = await pipeline.FinishedAsync(id);
        Assert.True(record.Status == BackupStatus.Complete, pipeline.ProcessOutput);
        var location = record.Sinks[BackupSinks.Telegram].LocationAs<TelegramLocation>()!;
        Assert.DoesNotContain(orphan.Id, location.MessageIds!);
        Assert.Equal(2, pipeline.TelegramMessagesFor(id).Count(m => m.Caption.Contains("part 2/3", StringComparison.Ordinal))); // the orphan and the part sent again
        var gap = Assert.Single(location.Gaps);
        Assert.True(gap.After < orphan.Id && orphan.Id < gap.Before, $"{orphan.Id} is not between {gap.After} and {gap.Before}");

        // A newer snapshot becomes the last good copy.
        await Task.Delay(TimeSpan.FromSeconds(1.1)); // snapshot ids have one-second resolution
        var newer = await Pipeline.RequestSnapshotAsync(host);
        Assert.Equal(BackupStatus.Complete, (await pipeline.FinishedAsync(newer)).Status);

        // Nine hours later (a Telegram sink whose clock is ahead), its start-up cleanup deletes the first snapshot, orphan included.
        await pipeline.StartHostAsync(b => b.AddTelegramSinkService(), clock: new FakeTimeProvider(DateTimeOffset.UtcNow.AddHours(9)));
        var removed = await TestHosts.EventuallyAsync(async () => await pipeline.Meta.GetAsync(id, CancellationToken.None) is { } r
            && r.Sinks[BackupSinks.Telegram].RemovedAt is not null ? r : null, TimeSpan.FromMinutes(1), "the first snapshot's Telegram copy to be removed");
        Assert.Contains(orphan.Id, pipeline.Telegram.Deleted);
        Assert.Empty(pipeline.TelegramMessagesFor(id));
        Assert.Equal(location.MessageIds!.Order(), removed.Sinks[BackupSinks.Telegram].RemovalAs<TelegramRemoval>()!.DeletedMessageIds.Order());
        Assert.Equal(3, pipeline.TelegramMessagesFor(newer).Count);
    }
}

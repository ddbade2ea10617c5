using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Reliability.Tests;

/// <summary>
/// kill -9 of each sink service in the middle of its work: the GitHub and public sinks while their push is on the wire
/// (held by a proxy in front of the git server), the Telegram sink while part 2 of 3 is being uploaded. After a restart
/// the snapshot completes everywhere, with no second commit, public file or Telegram part, and backups_meta says where
/// each copy is. (Killing the snapshot service mid-export is SnapshotServiceTests' kill -9 test.)
/// </summary>
public sealed class CrashRecoveryTests
{
    private static readonly string[] Sinks = ["TeleGuard.Backup.GitHub", "TeleGuard.Backup.Encryption", "TeleGuard.Backup.Telegram"];

    [Fact]
    public async Task Sinks_killed_mid_push_and_mid_upload_finish_after_restart_with_exactly_one_copy_each()
    {
        await using var pipeline = await Pipeline.CreateAsync(rabbitMq: true, documents: 3200, documentBytes: 1000);
        var gitProxy = FaultProxy.For(pipeline.Settings["GITHUB_REPO"]!);
        pipeline.Track(gitProxy);
        pipeline.Settings["GITHUB_REPO"] = gitProxy.Through(pipeline.Settings["GITHUB_REPO"]!);
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
}

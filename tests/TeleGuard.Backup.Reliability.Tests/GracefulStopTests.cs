using System.Diagnostics;
using TeleGuard.Backup.Crypto;
using TeleGuard.Backup.Destinations.GitHub;
using TeleGuard.Backup.Destinations.Public;
using TeleGuard.Backup.Destinations.Telegram;
using TeleGuard.Backup.Export;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Reliability.Tests;

/// <summary>
/// SIGTERM (<c>docker stop</c>) of the Telegram sink while a part is on its way: the service stops on its own within its
/// shutdown time (DOTNET_SHUTDOWNTIMEOUTSECONDS, which MassTransit's stop timeout follows), having recorded neither an
/// outcome nor a part Telegram did not accept; its message goes back to the queue, and the next instance finishes the
/// copy with exactly one message per part.
/// </summary>
public sealed class GracefulStopTests
{
    private const int ShutdownSeconds = 8;

    [Fact]
    public async Task SIGTERM_during_a_part_upload_stops_the_sink_in_its_shutdown_time_and_the_redelivered_message_completes_the_copy()
    {
        await using var pipeline = await Pipeline.CreateAsync(rabbitMq: true, documents: 3200, documentBytes: 1000);
        pipeline.Settings["TELEGRAM_PART_SIZE_MB"] = "1"; // ~2.4 MB gzipped archive → 3 parts
        // Encrypted: the next instance encrypts the archive again and must get the same bytes to reuse part 1.
        pipeline.Settings["TELEGRAM_ENCRYPTION_KEY"] = Convert.ToBase64String(EncryptionKeyRing.GenerateKey());
        pipeline.Settings["DOTNET_SHUTDOWNTIMEOUTSECONDS"] = ShutdownSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var hold = new SendHold(call: 2);
        pipeline.Telegram.HoldOnSend = hold; // part 2 stays on its way, its body unread, until its uploader goes away
        var host = await pipeline.StartHostAsync(b => b.AddSnapshotService().AddGitHubSinkService().AddPublicSinkService());
        var sink = await pipeline.StartServiceAsync("TeleGuard.Backup.Telegram");
        var id = await Pipeline.RequestSnapshotAsync(host);
        Assert.True(await Task.WhenAny(hold.Arrived.Task, Task.Delay(TimeSpan.FromMinutes(2))) == hold.Arrived.Task, pipeline.ProcessOutput);

        var stopping = Stopwatch.StartNew();
        sink.Terminate();
        var exitCode = await sink.WaitForExitAsync(TimeSpan.FromSeconds(ShutdownSeconds + 10)); // killed and failed if it hangs
        stopping.Stop();
        Assert.True(exitCode == 0, $"exit code {exitCode}:\n{sink.Output}");
        Assert.Contains("Application is shutting down", sink.Output);
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(ShutdownSeconds + 5), $"stopped after {stopping.Elapsed.TotalSeconds:0.0} s");
        pipeline.Telegram.HoldOnSend = null;

        // Nothing half-recorded: no outcome, no error, and only the part Telegram accepted (part 2's intent, recorded
        // before it was sent, is what makes a message Telegram might have accepted reachable for retention).
        var during = (await pipeline.Meta.GetAsync(id, CancellationToken.None))!.Sinks[BackupSinks.Telegram];
        Assert.Equal(SinkStatus.Running, during.Status);
        Assert.Null(during.Error);
        Assert.Equal(1, during.Attempts);
        var accepted = Assert.Single(pipeline.TelegramMessagesFor(id));
        var location = during.LocationAs<TelegramLocation>()!;
        var recorded = Assert.Single(location.Parts);
        Assert.Equal((1, accepted.Id), (recorded.Index, recorded.MessageId));
        Assert.Equal(2, location.Sending!.Index);

        // A new instance gets the message again and completes the copy, reusing part 1.
        await pipeline.StartServiceAsync("TeleGuard.Backup.Telegram");
        var record = await pipeline.FinishedAsync(id);
        Assert.True(record.Status == BackupStatus.Complete, pipeline.ProcessOutput);
        var copy = record.Sinks[BackupSinks.Telegram];
        Assert.Equal(2, copy.Attempts);
        Assert.True(copy.LocationAs<TelegramLocation>()!.Encrypted);
        pipeline.AssertExactlyOneCopyEverywhere(record);
        Assert.Equal(3, pipeline.TelegramMessagesFor(id).Count);
        Assert.Equal(accepted.Id, copy.LocationAs<TelegramLocation>()!.MessageIds![0]);
    }
}

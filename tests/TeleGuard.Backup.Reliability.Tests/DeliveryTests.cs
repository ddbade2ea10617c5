using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Destinations.GitHub;
using TeleGuard.Backup.Destinations.Public;
using TeleGuard.Backup.Destinations.Telegram;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Reliability.Tests;

/// <summary>At-least-once delivery at its worst: every announcement five times to two instances of every sink, and announcements of artifacts that are missing or corrupt.</summary>
public sealed class DeliveryTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);
    private static readonly string[] SinkQueues = ["teleguard-github", "teleguard-public", "teleguard-telegram"];

    private static void AddSinks(Microsoft.Extensions.Hosting.HostApplicationBuilder builder) =>
        builder.AddGitHubSinkService().AddPublicSinkService().AddTelegramSinkService();

    [Fact]
    public async Task Every_SnapshotCreated_delivered_five_times_to_two_instances_of_every_sink_makes_exactly_one_copy_each()
    {
        await using var pipeline = await Pipeline.CreateAsync(rabbitMq: true);
        pipeline.Settings["TELEGRAM_PART_SIZE_MB"] = "1";
        var first = await pipeline.StartHostAsync(AddSinks);
        await pipeline.StartHostAsync(AddSinks); // a second instance of every sink, competing for the same queues

        const string id = "20261126T090000Z";
        var announced = await SyntheticSnapshots.AnnounceAsync(first.Services, pipeline.Work.Path, id, 3L * 1024 * 1024);
        var bus = first.Services.GetRequiredService<IBus>();
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => bus.Publish(announced))); // five deliveries in all, at once

        var record = await pipeline.FinishedAsync(id, Timeout);
        Assert.True(record.Status == BackupStatus.Complete, pipeline.ProcessOutput);

        // Each sink's five deliveries were all consumed (by one instance or the other), none faulted (nothing went to
        // the error queue): one made the copy, the four others found it made.
        foreach (var sink in BackupSinks.All)
        {
            var consumed = await pipeline.Consumed.WaitForAsync<SnapshotCreated>(5, Timeout, $"teleguard-{sink}");
            Assert.Equal(5, consumed.Count);
            Assert.All(consumed, c => Assert.Null(c.Fault));
            Assert.Equal(1, pipeline.LogLinesContaining($"{sink}: snapshot {id} copied:"));
            Assert.Equal(4, pipeline.LogLinesContaining($"{sink}: snapshot {id} already copied"));
        }

        record = (await pipeline.Meta.GetAsync(id, CancellationToken.None))!;
        pipeline.AssertExactlyOneCopyEverywhere(record);
        Assert.True(pipeline.TelegramMessagesFor(id).Count >= 3);
        Assert.All(BackupSinks.All, sink => Assert.Equal(1, record.Sinks[sink].Attempts));
    }

    [Fact]
    public async Task A_SnapshotCreated_naming_a_missing_or_corrupt_artifact_fails_once_without_a_partial_copy_and_is_kept_in_the_error_queues()
    {
        await using var pipeline = await Pipeline.CreateAsync(rabbitMq: true);
        var artifacts = Path.Combine(pipeline.Work.Path, "artifacts");
        pipeline.Settings["ARTIFACT_STORE"] = "directory";
        pipeline.Settings["ARTIFACT_DIR"] = artifacts;
        pipeline.Settings["RETRY_LIMIT"] = "3";

        // The corrupt one: a real artifact with one byte flipped after it was announced (no sink is listening yet).
        var announcer = await pipeline.StartHostAsync(_ => { });
        var corrupt = await SyntheticSnapshots.AnnounceAsync(announcer.Services, pipeline.Work.Path, "20261126T100000Z", 512 * 1024);
        var file = Directory.GetFiles(artifacts).Single();
        var bytes = await File.ReadAllBytesAsync(file);
        bytes[bytes.Length / 3] ^= 0x40;
        await File.WriteAllBytesAsync(file, bytes);
        var missing = corrupt with { SnapshotId = "20261126T110000Z", ArtifactLocation = "dir:20261126T110000Z.tar" };

        var sinks = await pipeline.StartHostAsync(AddSinks);
        var bus = sinks.Services.GetRequiredService<IBus>();
        await bus.Publish(corrupt);
        await bus.Publish(missing);

        foreach (var id in new[] { corrupt.SnapshotId, missing.SnapshotId })
        {
            var record = await TestHosts.EventuallyAsync(async () => await pipeline.Meta.GetAsync(id, CancellationToken.None) is { } r
                && BackupSinks.All.All(s => r.Sinks.GetValueOrDefault(s)?.Status == SinkStatus.Failed) ? r : null, Timeout, $"every sink to record {id} as failed");
            foreach (var sink in BackupSinks.All)
            {
                Assert.Equal(1, record.Sinks[sink].Attempts); // a permanent failure: not retried
                Assert.Contains(id, record.Sinks[sink].Error);
            }

            Assert.Empty(pipeline.CommitsFor(Pipeline.PrivateBranch, id));
            Assert.Empty(pipeline.CommitsFor(Pipeline.PublicBranch, id));
            Assert.Empty(pipeline.TelegramMessagesFor(id));
        }

        Assert.False(pipeline.BranchExists(Pipeline.PrivateBranch));
        Assert.False(pipeline.BranchExists(Pipeline.PublicBranch));
        Assert.Empty(pipeline.Telegram.Messages);
        foreach (var queue in SinkQueues)
        {
            await TestHosts.EventuallyAsync(async () => await pipeline.Broker!.CountMessagesAsync(queue + "_error") == 2 ? (object?)true : null,
                TimeSpan.FromSeconds(30), $"both announcements in {queue}_error");
        }
    }
}

using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Reliability.Tests;

/// <summary>Backups stopped for 20 hours (more than RETENTION_HOURS): cleanup removes what is older than the last good copy and keeps that copy in every destination.</summary>
public sealed class RetentionStallTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task After_a_20_hour_stall_cleanup_keeps_the_last_good_copy_in_every_destination()
    {
        await using var pipeline = await Pipeline.CreateAsync(rabbitMq: false);
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var host = await pipeline.StartHostAsync(clock: clock);
        var older = await Pipeline.RequestSnapshotAsync(host);
        Assert.Equal(BackupStatus.Complete, (await pipeline.FinishedAsync(older, Timeout)).Status);
        await Task.Delay(TimeSpan.FromSeconds(1.1));
        var lastGood = await Pipeline.RequestSnapshotAsync(host);
        Assert.Equal(BackupStatus.Complete, (await pipeline.FinishedAsync(lastGood, Timeout)).Status);

        clock.Advance(TimeSpan.FromHours(20)); // no backups since: both snapshots are past RETENTION_HOURS (8)
        await host.Services.GetRequiredService<IBus>().Publish(new CleanupRequested("20261126T130500Z", clock.GetUtcNow(), "schedule"));

        var olderRecord = await TestHosts.EventuallyAsync(async () => await pipeline.Meta.GetAsync(older, CancellationToken.None) is { } r
            && BackupSinks.All.All(s => r.Sinks[s].RemovedAt is not null) && r.Artifact!.DeletedAt is not null ? r : null, Timeout, "the older snapshot's copies to be removed");
        var kept = (await pipeline.Meta.GetAsync(lastGood, CancellationToken.None))!;
        Assert.All(BackupSinks.All, s => Assert.Null(kept.Sinks[s].RemovedAt));
        Assert.Null(kept.Artifact!.DeletedAt);
        // Removed by this cleanup: at its time on the services' clock (which stands still), 20 hours on.
        var cleanedAt = StoredTime.Of(clock.GetUtcNow());
        Assert.All(BackupSinks.All, s => Assert.Equal(cleanedAt, olderRecord.Sinks[s].RemovedAt));
        Assert.Equal(cleanedAt, olderRecord.Artifact!.DeletedAt);

        // What is actually in each destination: the last good snapshot, and only it.
        Assert.Equal("1", GitServer.Run(pipeline.RepositoryPath, "rev-list", "--count", Pipeline.PrivateBranch).Trim());
        Assert.Contains(lastGood, System.Text.Encoding.UTF8.GetString(GitServer.ReadBlob(pipeline.RepositoryPath, Pipeline.PrivateBranch, "snapshot/manifest.json")));
        Assert.Equal([lastGood], pipeline.PublicIndexIds());
        Assert.All(pipeline.PublicFiles(), f => Assert.Contains(lastGood, f));
        Assert.NotEmpty(pipeline.TelegramMessagesFor(lastGood));
        Assert.Empty(pipeline.TelegramMessagesFor(older));
        var store = host.Services.GetRequiredService<IArtifactStore>();
        await using (await store.OpenReadAsync(kept.Artifact.Location, CancellationToken.None))
        {
        }

        // A restore from each destination still works.
        foreach (var from in new[] { "github", "public", "telegram", "store" })
        {
            var verify = await pipeline.RunCliAsync(Timeout, "verify", "--from", from, "--snapshot", lastGood);
            Assert.True(verify.ExitCode == 0, $"{from}: {verify.Output}");
        }
    }
}

using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Destinations.Public;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Reliability.Tests;

/// <summary>"Latest" is the snapshot holding the newest data, whatever its id, in every destination and in status.</summary>
public sealed class LatestDataTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task A_catch_up_snapshot_of_an_earlier_slot_taken_after_a_manual_one_is_the_latest_everywhere()
    {
        await using var pipeline = await Pipeline.CreateAsync(rabbitMq: false);
        var host = await pipeline.StartHostAsync();
        var items = pipeline.Database.GetCollection<BsonDocument>("items");

        // 13:20 a manual snapshot; then the data changes; 13:37 the scheduler catches up on the 13:00 slot it missed.
        var manual = await Pipeline.RequestSnapshotAsync(host);
        Assert.Equal(BackupStatus.Complete, (await pipeline.FinishedAsync(manual, Timeout)).Status);
        await items.UpdateOneAsync(new BsonDocument("_id", 0), new BsonDocument("$set", new BsonDocument("payload", "written after the manual snapshot")));
        var slot = SnapshotIds.ToTime(manual).AddHours(-1);
        var catchUp = SnapshotIds.FromTime(new DateTimeOffset(slot.Year, slot.Month, slot.Day, slot.Hour, 0, 0, TimeSpan.Zero));
        await host.Services.GetRequiredService<IBus>().Publish(new SnapshotRequested(catchUp, DateTimeOffset.UtcNow, "catch-up"));
        var record = await pipeline.FinishedAsync(catchUp, Timeout);
        Assert.True(record.Status == BackupStatus.Complete, pipeline.ProcessOutput);
        Assert.True(string.CompareOrdinal(catchUp, manual) < 0);

        // The private branch: the catch-up is the head, above the manual snapshot.
        var history = GitServer.Run(pipeline.RepositoryPath, "log", "--format=%(trailers:key=Snapshot-Id,valueonly,separator=)", Pipeline.PrivateBranch)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal([catchUp, manual], history);

        // The public branch: index.json lists both, and the catch-up is its newest.
        var index = PublicIndex.Parse(GitServer.ReadBlob(pipeline.RepositoryPath, Pipeline.PublicBranch, PublicIndex.FileName));
        Assert.Equal([catchUp, manual], index.Snapshots.Select(s => s.Id).Order(StringComparer.Ordinal));
        Assert.Equal(catchUp, index.Newest()!.Id);

        // Every destination's "latest", and status.
        foreach (var from in new[] { "github", "public", "telegram", "store" })
        {
            var verify = await pipeline.RunCliAsync(Timeout, "verify", "--from", from, "--snapshot", "latest");
            Assert.True(verify.ExitCode == 0, verify.Output);
            Assert.Contains($"snapshot {catchUp} fetched from {from} and verified", verify.Output);
        }

        var target = await TestServices.MongoUriAsync();
        var restore = await pipeline.RunCliAsync(Timeout, "restore", "--from", "public", "--snapshot", "latest", "--to-uri", target);
        Assert.True(restore.ExitCode == 0, restore.Output);
        var restored = await new MongoClient(target).GetDatabase(MongoUrl.Create(target).DatabaseName)
            .GetCollection<BsonDocument>("items").Find(new BsonDocument("_id", 0)).SingleAsync();
        Assert.Equal("written after the manual snapshot", restored["payload"].AsString);

        var status = await pipeline.RunCliAsync(Timeout, "status");
        Assert.True(status.ExitCode == 0, status.Output);
        Assert.Contains($"Last complete snapshot: {catchUp} (data read ", status.StandardOutput);
    }
}

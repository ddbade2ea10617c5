using System.Diagnostics;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Destinations.GitHub;
using TeleGuard.Backup.Destinations.Public;
using TeleGuard.Backup.Destinations.Telegram;
using TeleGuard.Backup.Destinations;
using TeleGuard.Backup.Export;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Scheduling;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Reliability.Tests;

/// <summary>
/// RESTORE_DRILL_SCHEDULE as docker compose runs it: the scheduler, the snapshot service and each destination's service
/// are separate hosts on RabbitMQ, each with only its own configuration. The scheduler's drill request must make every
/// destination's service drill its own copy and record the result.
/// </summary>
public sealed class ScheduledDrillTests
{
    private static readonly string[] GitHubSettings = ["GITHUB_REPO", "GITHUB_PUBLIC_REPO", "GITHUB_TOKEN"];
    private static readonly string[] PublicSettings = ["ENCRYPTION_KEY"];
    private static readonly string[] TelegramSettings = ["TELEGRAM_BOT_TOKEN", "TELEGRAM_CHANNEL_ID", "TELEGRAM_API_BASE_URL"];

    [Fact]
    public async Task The_scheduled_drill_is_run_by_each_destinations_own_service_with_only_its_own_secrets_and_recorded_per_destination()
    {
        await using var pipeline = await Pipeline.CreateAsync(rabbitMq: true);
        var snapshotHost = await pipeline.StartHostAsync(b => b.AddSnapshotService(), Without(GitHubSettings, PublicSettings, TelegramSettings));
        await pipeline.StartHostAsync(b => b.AddGitHubSinkService(), Without(PublicSettings, TelegramSettings, ["GITHUB_PUBLIC_REPO"]));
        await pipeline.StartHostAsync(b => b.AddPublicSinkService(), Without(TelegramSettings, ["GITHUB_REPO"]));
        await pipeline.StartHostAsync(b => b.AddTelegramSinkService(), Without(GitHubSettings, PublicSettings));
        var id = await Pipeline.RequestSnapshotAsync(snapshotHost);
        Assert.Equal(BackupStatus.Complete, (await pipeline.FinishedAsync(id)).Status);

        // The scheduler knows no destination's secrets; its drill slot comes every 2 seconds, its other schedules never.
        var drillsAfter = DateTime.UtcNow;
        var settings = Without(GitHubSettings, PublicSettings, TelegramSettings);
        settings["RESTORE_DRILL_SCHEDULE"] = "*/2 * * * * *";
        settings["BACKUP_SCHEDULE"] = "0 0 1 1 *";
        settings["CLEANUP_SCHEDULE"] = "0 0 1 1 *";
        settings["SCHEDULER_CATCH_UP"] = "false";
        await pipeline.StartHostAsync(b => b.AddSchedulerService(), settings);

        var destinations = new[] { BackupSinks.GitHub, BackupSinks.Public, BackupSinks.Telegram, CleanupReporter.ArtifactStoreDestination };
        var record = await TestHosts.EventuallyAsync(async () =>
                await pipeline.Meta.GetAsync(id, CancellationToken.None) is { } r && destinations.All(d => r.Drills.TryGetValue(d, out var drill) && drill.At >= drillsAfter.AddSeconds(-1)) ? r : null,
            TimeSpan.FromMinutes(2), "a drill result of every destination on the snapshot");
        Assert.All(destinations, d => Assert.True(record.Drills[d].Ok, $"{d}: {record.Drills[d].Error}"));
        Assert.Contains(pipeline.Published.Of<RestoreDrillRequested>(), r => r.Reason == "schedule");
        foreach (var destination in destinations)
        {
            Assert.Contains($"Restore drill: {destination} holds snapshot {id}", pipeline.Logs.All);
        }
    }

    /// <summary>
    /// A drill that hangs (a server that never answers) must end within its time limit, recorded as failed on the
    /// snapshot the destination holds, instead of outliving RabbitMQ's delivery timeout and starting over forever; and a
    /// request that waited past the limit is skipped (a newer one follows) rather than piling up.
    /// </summary>
    [Fact]
    public async Task A_drill_that_hangs_fails_at_its_time_limit_on_the_snapshot_held_and_a_stale_request_is_skipped()
    {
        await using var pipeline = await Pipeline.CreateAsync(rabbitMq: false, documents: 1);
        var id = SnapshotIds.FromTime(DateTimeOffset.UtcNow);
        await pipeline.Meta.RecordRequestedAsync(id, DateTimeOffset.UtcNow, "schedule", CancellationToken.None);
        var logs = new CapturedLogs();
        using var loggers = LoggerFactory.Create(b => b.AddProvider(logs));
        var drill = new RestoreDrill(pipeline.Meta, new IncrementsStore(pipeline.Database), Options.Create(new MongoOptions { Uri = pipeline.MongoUri }),
            Options.Create(new WorkDirectoryOptions()), TimeProvider.System, loggers.CreateLogger<RestoreDrill>());
        var hanging = new HangingDestination(id);

        var result = await drill.RunAsync(hanging, CancellationToken.None, TimeSpan.FromSeconds(2)).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("did not finish within 2 seconds", result.Error);
        var record = (await pipeline.Meta.GetAsync(id, CancellationToken.None))!;
        Assert.False(record.Drills["hanging"].Ok);
        Assert.Contains("did not finish", record.Drills["hanging"].Error);

        await drill.RunRequestedAsync(hanging, new RestoreDrillRequested("20000101T000000Z", DateTimeOffset.UtcNow - RestoreDrill.TimeLimit - TimeSpan.FromMinutes(1), "schedule"), CancellationToken.None);
        Assert.Contains("Restore drill 20000101T000000Z: hanging skips a request older than the drill's time limit", logs.All);
        Assert.Equal(1, hanging.Fetches);
    }

    /// <summary>
    /// A copy that no longer restores is an alert: the first failed drill of a snapshot raises one (sent to the alert
    /// chat), the same failure at the next slot does not repeat it, and destinations whose drill passes raise none.
    /// </summary>
    [Fact]
    public async Task A_failing_drill_is_alerted_once_in_the_alert_chat_and_a_passing_one_not_at_all()
    {
        await using var pipeline = await Pipeline.CreateAsync(rabbitMq: false);
        var host = await pipeline.StartHostAsync(overrides: new Dictionary<string, string?> { ["TELEGRAM_ALERT_CHAT_ID"] = FakeTelegramBotApi.AlertChatId.ToString() });
        var id = await Pipeline.RequestSnapshotAsync(host);
        Assert.Equal(BackupStatus.Complete, (await pipeline.FinishedAsync(id)).Status);

        // The store's artifact no longer matches what was recorded: its drill fails; the other three pass.
        await pipeline.Database.GetCollection<BsonDocument>(BackupsMetaStore.CollectionName)
            .UpdateOneAsync(new BsonDocument("_id", id), new BsonDocument("$set", new BsonDocument("artifact.sha256", new string('0', 64))));
        var bus = host.Services.GetRequiredService<IBus>();
        foreach (var slot in new[] { "20261130T030000Z", "20261130T040000Z" })
        {
            var drilled = pipeline.Consumed.Of<RestoreDrillRequested>().Count;
            await bus.Publish(new RestoreDrillRequested(slot, DateTimeOffset.UtcNow, "schedule"));
            await pipeline.Consumed.WaitForAsync<RestoreDrillRequested>(drilled + 4, TimeSpan.FromMinutes(2)); // one per destination
        }

        var alert = Assert.Single(pipeline.Published.Of<BackupAlertRaised>());
        Assert.Equal(("drill", id, $"drill:store:{id}"), (alert.Kind, alert.SnapshotId, alert.AlertId));
        Assert.StartsWith($"TeleGuard backup: the restore drill of store failed on snapshot {id}: ", alert.Text);
        Assert.Contains("the artifact's SHA-256 differs from the one recorded", alert.Text);
        var sent = await TestHosts.EventuallyAsync(() => Task.FromResult<string?>(pipeline.Telegram.TextMessages.FirstOrDefault(m => m.Text.Contains("restore drill of store", StringComparison.Ordinal)).Text),
            TimeSpan.FromSeconds(30), "the alert in the alert chat");
        Assert.Contains(id, sent);
        var record = (await pipeline.Meta.GetAsync(id, CancellationToken.None))!;
        Assert.False(record.Drills["store"].Ok);
        Assert.All(new[] { BackupSinks.GitHub, BackupSinks.Public, BackupSinks.Telegram }, d => Assert.True(record.Drills[d].Ok, d));
    }

    private sealed class HangingDestination(string held) : IBackupDestination
    {
        public int Fetches;

        public string Name => "hanging";

        public bool IsEnabled => true;

        public string EnabledBy => "nothing";

        public bool ReadsBackupsMeta => false;

        public async Task<SnapshotManifest> FetchAsync(string snapshot, string folder, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Fetches);
            await Task.Delay(Timeout.Infinite, cancellationToken); // a server that accepted the connection and never answers
            throw new UnreachableException();
        }

        public Task<string?> FindLatestRecordedAsync(BackupsMetaStore meta, CancellationToken cancellationToken) => Task.FromResult<string?>(held);

        public string DescribeCopy(SinkRecord copy) => "nowhere";
    }

    private static Dictionary<string, string?> Without(params string[][] names) =>
        names.SelectMany(n => n).Distinct().ToDictionary(n => n, _ => (string?)null);
}

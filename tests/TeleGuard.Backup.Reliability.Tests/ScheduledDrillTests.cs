using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Destinations.GitHub;
using TeleGuard.Backup.Destinations.Public;
using TeleGuard.Backup.Destinations.Telegram;
using TeleGuard.Backup.Export;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Scheduling;
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

    private static Dictionary<string, string?> Without(params string[][] names) =>
        names.SelectMany(n => n).Distinct().ToDictionary(n => n, _ => (string?)null);
}

using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MongoDB.Driver;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Destinations.Telegram;
using TeleGuard.Backup.Scheduling;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Reliability.Tests;

/// <summary>
/// Alerts: a snapshot that ended degraded, and a newest complete snapshot older than the threshold, are logged and sent
/// to the alert chat once; documents other programs keep in backups_meta neither raise nor hide one.
/// </summary>
public sealed class AlertingTests
{
    [Fact]
    public async Task A_degraded_snapshot_and_a_stale_last_complete_snapshot_are_alerted_once_in_the_log_and_in_the_Telegram_alert_chat()
    {
        await using var pipeline = await Pipeline.CreateAsync(rabbitMq: false, documents: 1);
        var now = DateTimeOffset.UtcNow;
        // Among them a recent "failed" and a recent "complete" document with snapshot-like ids.
        var foreign = await SharedBackupsMeta.InsertForeignAsync(pipeline.Database, now);
        var complete = SnapshotIds.FromTime(now.AddHours(-5));
        var degraded = SnapshotIds.FromTime(now.AddMinutes(-10));
        await pipeline.Database.GetCollection<BackupRecord>(BackupsMetaStore.CollectionName).InsertManyAsync(
        [
            new BackupRecord { Id = complete, Status = BackupStatus.Complete, RequestedAt = now.AddHours(-5).UtcDateTime },
            new BackupRecord
            {
                Id = degraded, Status = BackupStatus.Degraded, RequestedAt = now.AddMinutes(-10).UtcDateTime,
                Sinks = new Dictionary<string, SinkRecord>
                {
                    [BackupSinks.GitHub] = new() { Status = SinkStatus.Succeeded },
                    [BackupSinks.Public] = new() { Status = SinkStatus.Succeeded },
                    [BackupSinks.Telegram] = new() { Status = SinkStatus.Failed, Error = "Telegram sendDocument refused: 403 Forbidden" },
                },
            },
        ]);

        var host = await pipeline.StartHostAsync(b => b.AddSchedulerService().AddTelegramSinkService(), new Dictionary<string, string?>
        {
            ["TELEGRAM_ALERT_CHAT_ID"] = FakeTelegramBotApi.AlertChatId.ToString(),
            ["ALERT_MAX_AGE_HOURS"] = "3",
            ["ALERT_CHECK_SECONDS"] = "1",
            ["BACKUP_SCHEDULE"] = "0 0 1 1 *",
            ["CLEANUP_SCHEDULE"] = "0 0 1 1 *",
            ["SCHEDULER_CATCH_UP"] = "false",
        });

        await TestHosts.EventuallyAsync(() => Task.FromResult(pipeline.Telegram.TextMessages.Count >= 2 ? "sent" : null),
            TimeSpan.FromMinutes(1), "two alerts in the alert chat");

        // Three more checks, each run to completion after both alerts went out, raise neither alert again: two alerts
        // were published in all.
        var watcher = host.Services.GetServices<IHostedService>().OfType<BackupHealthWatcher>().Single();
        for (var check = 0; check < 3; check++)
        {
            await watcher.CheckAsync(now, CancellationToken.None);
        }

        var raised = pipeline.Published.Of<BackupAlertRaised>();
        Assert.True(raised.Count == 2, string.Join("\n", raised));
        // Every alert raised was delivered to the alert chat before looking at it.
        await pipeline.Consumed.WaitForAsync<BackupAlertRaised>(raised.Count, TimeSpan.FromMinutes(1));
        var alerts = pipeline.Telegram.TextMessages.ToList();

        Assert.All(alerts, a => Assert.Equal(FakeTelegramBotApi.AlertChatId.ToString(), a.Chat));
        var degradedAlert = Assert.Single(alerts, a => a.Text.Contains(degraded, StringComparison.Ordinal));
        Assert.Contains("degraded", degradedAlert.Text);
        Assert.Contains("403 Forbidden", degradedAlert.Text);
        var staleAlert = Assert.Single(alerts, a => a.Text.Contains(complete, StringComparison.Ordinal));
        Assert.Contains("5 hours old", staleAlert.Text);
        Assert.Equal(2, alerts.Count);
        Assert.Contains($"ALERT degraded: TeleGuard backup: snapshot {degraded} ended degraded", pipeline.Logs.All);
        Assert.Contains("ALERT stale:", pipeline.Logs.All);
        var alertedAt = (await pipeline.Meta.GetAsync(degraded, CancellationToken.None))!.AlertedAt;
        Assert.InRange(alertedAt!.Value, now.UtcDateTime.AddSeconds(-1), DateTime.UtcNow); // claimed when it was alerted, in this test
        Assert.Empty(pipeline.Telegram.Messages); // alerts are text messages to the alert chat, nothing in the backup channel
        await SharedBackupsMeta.AssertForeignUnchangedAsync(pipeline.Database, foreign);
    }
}

using MassTransit;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Scheduling;

/// <summary>
/// Raises alerts (logged at error level and published as <see cref="BackupAlertRaised"/>): once for each snapshot that
/// ends degraded or failed (claimed in backups_meta, so several schedulers alert once), and once an hour while the
/// newest complete snapshot is older than <see cref="AlertOptions.MaxAge"/>.
/// </summary>
public sealed partial class BackupHealthWatcher(
    BackupsMetaStore meta,
    RedisLocks locks,
    IBus bus,
    IOptions<AlertOptions> options,
    TimeProvider time,
    IHostApplicationLifetime lifetime,
    ILogger<BackupHealthWatcher> logger) : BackgroundService
{
    private static readonly TimeSpan OutcomeWindow = TimeSpan.FromHours(48);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await lifetime.WaitForStartedAsync(stoppingToken);
        var watchingSince = time.GetUtcNow();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await CheckAsync(watchingSince, stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogCheckFailed(logger, ErrorText.Describe(e));
            }

            await Task.Delay(options.Value.CheckInterval, time, stoppingToken);
        }
    }

    public async Task CheckAsync(DateTimeOffset watchingSince, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        while (await meta.ClaimUnalertedOutcomeAsync(SnapshotIds.FromTime(now - OutcomeWindow), cancellationToken) is { } record)
        {
            var problems = record.Sinks
                .Where(s => s.Value.Status == SinkStatus.Failed)
                .Select(s => $"{s.Key}: {s.Value.Error ?? "failed"}")
                .Prepend(record.Error ?? "")
                .Where(p => p.Length > 0);
            await RaiseAsync(new BackupAlertRaised($"{record.Status}:{record.Id}", record.Status, record.Id,
                $"TeleGuard backup: snapshot {record.Id} ended {record.Status}. {string.Join("; ", problems)}".TrimEnd(' ', '.') + ".", now),
                cancellationToken);
        }

        var maxAge = options.Value.MaxAge;
        var latest = await meta.FindLatestCompleteAsync(cancellationToken);
        var since = latest is null ? watchingSince : SnapshotIds.ToTime(latest.Id);
        if (now - since <= maxAge)
        {
            return;
        }

        // Once per hour for as long as it lasts, across schedulers; without Redis possibly once per scheduler.
        var alertId = $"stale:{latest?.Id ?? "none"}:{SnapshotIds.FromTime(new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero))}";
        bool first;
        try
        {
            first = await locks.TryClaimOnceAsync($"alert:{alertId}", TimeSpan.FromHours(2), cancellationToken);
        }
        catch (RedisUnavailableException)
        {
            first = true;
        }

        if (first)
        {
            var age = now - since;
            var text = latest is null
                ? $"TeleGuard backup: no complete snapshot in the {age.TotalHours:0.#} hours since monitoring started (threshold {maxAge.TotalHours:0.#} h)."
                : $"TeleGuard backup: the newest complete snapshot, {latest.Id}, is {age.TotalHours:0.#} hours old (threshold {maxAge.TotalHours:0.#} h).";
            await RaiseAsync(new BackupAlertRaised(alertId, "stale", latest?.Id, text, now), cancellationToken);
        }
    }

    private async Task RaiseAsync(BackupAlertRaised alert, CancellationToken cancellationToken)
    {
        LogAlert(logger, alert.Kind, alert.Text);
        await bus.Publish(alert, cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Backup health check failed: {Error}")]
    private static partial void LogCheckFailed(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "ALERT {Kind}: {Text}")]
    private static partial void LogAlert(ILogger logger, string kind, string text);
}

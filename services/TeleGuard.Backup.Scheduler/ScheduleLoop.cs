using Cronos;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.Scheduler;

/// <summary>
/// Waits for each cron slot (UTC) and requests it. On start it first catches up: the most recent slot of each
/// schedule within the last hour is requested if no scheduler requested it yet (a restart across a slot loses nothing).
/// </summary>
public sealed class ScheduleLoop(
    IServiceScopeFactory scopes,
    IOptions<SchedulerOptions> options,
    TimeProvider time,
    IHostApplicationLifetime lifetime,
    ILogger<ScheduleLoop> logger) : BackgroundService
{
    private static readonly TimeSpan CatchUpWindow = TimeSpan.FromHours(1);
    private DateTimeOffset? _nextDue;

    /// <summary>The slot the loop is waiting for (null before it starts waiting).</summary>
    public DateTimeOffset? NextDue => _nextDue;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Publish only once every hosted service, the bus included, has started.
        await lifetime.WaitForStartedAsync(stoppingToken);

        var schedules = new (ScheduleKind Kind, CronExpression Cron)[]
        {
            (ScheduleKind.Backup, options.Value.BackupSchedule),
            (ScheduleKind.Cleanup, options.Value.CleanupSchedule),
        };

        var now = time.GetUtcNow();
        if (options.Value.CatchUp)
        {
            foreach (var (kind, cron) in schedules)
            {
                var missed = cron.GetOccurrences(now - CatchUpWindow, now, TimeZoneInfo.Utc, fromInclusive: false, toInclusive: true).LastOrDefault();
                if (missed != default)
                {
                    await RequestSafelyAsync(kind, missed, "catch-up", stoppingToken);
                }
            }
        }

        var after = now;
        while (!stoppingToken.IsCancellationRequested)
        {
            var next = schedules
                .Select(s => (s.Kind, At: s.Cron.GetNextOccurrence(after, TimeZoneInfo.Utc)))
                .Where(s => s.At is not null)
                .ToList();
            if (next.Count == 0)
            {
                logger.LogWarning("No schedule has a future occurrence; the scheduler idles");
                return;
            }

            var due = next.Min(s => s.At!.Value);
            _nextDue = due;
            var delay = due - time.GetUtcNow();
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, time, stoppingToken);
            }

            foreach (var (kind, at) in next.Where(s => s.At == due))
            {
                await RequestSafelyAsync(kind, at!.Value, "schedule", stoppingToken);
            }

            after = due;
        }
    }

    // A failed publish (broker or MongoDB down) is logged and the loop goes on to the next slot.
    private async Task RequestSafelyAsync(ScheduleKind kind, DateTimeOffset slot, string reason, CancellationToken cancellationToken)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<SlotRequester>().RequestAsync(kind, slot, reason, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogError("Could not request {Kind} slot {Slot:O}: {Error}", kind, slot, TeleGuard.Backup.Hosting.ErrorText.Describe(e));
        }
    }
}

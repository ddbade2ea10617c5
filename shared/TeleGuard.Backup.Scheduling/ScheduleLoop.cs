using Cronos;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Scheduling;

/// <summary>
/// Waits for each cron slot (UTC) and requests it. On start it first catches up: the most recent slot of each
/// schedule within the last hour is requested if no scheduler requested it yet (a restart across a slot loses nothing).
/// A slot whose request could not be published (broker or Redis trouble) stays pending and is asked again every
/// <see cref="RetryInterval"/> until it is requested, or until a newer slot of the same schedule supersedes it (a
/// snapshot taken now holds the newer data anyway).
/// </summary>
public sealed partial class ScheduleLoop(
    IServiceScopeFactory scopes,
    IOptions<SchedulerOptions> options,
    TimeProvider time,
    IHostApplicationLifetime lifetime,
    ILogger<ScheduleLoop> logger) : BackgroundService
{
    public static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan CatchUpWindow = TimeSpan.FromHours(1);
    private readonly Dictionary<ScheduleKind, (DateTimeOffset Slot, string Reason)> _pending = [];
    private DateTimeOffset? _nextDue;

    /// <summary>The slot the loop is waiting for (null before it starts waiting).</summary>
    public DateTimeOffset? NextDue => _nextDue;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Publish only once every hosted service, the bus included, has started.
        await lifetime.WaitForStartedAsync(stoppingToken);

        var schedules = new List<(ScheduleKind Kind, CronExpression Cron)>
        {
            (ScheduleKind.Backup, options.Value.BackupSchedule),
            (ScheduleKind.Cleanup, options.Value.CleanupSchedule),
        };
        if (options.Value.RestoreDrillSchedule is { } drill)
        {
            schedules.Add((ScheduleKind.RestoreDrill, drill));
        }

        var now = time.GetUtcNow();
        if (options.Value.CatchUp)
        {
            foreach (var (kind, cron) in schedules)
            {
                var missed = cron.GetOccurrences(now - CatchUpWindow, now, TimeZoneInfo.Utc, fromInclusive: false, toInclusive: true).LastOrDefault();
                if (missed != default)
                {
                    _pending[kind] = (missed, "catch-up");
                }
            }

            await RequestPendingAsync(stoppingToken);
        }

        var after = now;
        while (!stoppingToken.IsCancellationRequested)
        {
            var next = schedules
                .Select(s => (s.Kind, At: s.Cron.GetNextOccurrence(after, TimeZoneInfo.Utc)))
                .Where(s => s.At is not null)
                .ToList();
            if (next.Count == 0 && _pending.Count == 0)
            {
                LogNoFutureOccurrence(logger);
                return;
            }

            var due = next.Count > 0 ? next.Min(s => s.At!.Value) : DateTimeOffset.MaxValue;
            _nextDue = next.Count > 0 ? due : null;
            var wake = _pending.Count > 0 ? Min(due, time.GetUtcNow() + RetryInterval) : due;
            var delay = wake - time.GetUtcNow();
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, time, stoppingToken);
            }

            if (time.GetUtcNow() >= due)
            {
                foreach (var (kind, at) in next.Where(s => s.At == due))
                {
                    _pending[kind] = (at!.Value, "schedule"); // supersedes an older slot still pending
                }

                after = due;
            }

            await RequestPendingAsync(stoppingToken);
        }
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private async Task RequestPendingAsync(CancellationToken cancellationToken)
    {
        foreach (var (kind, (slot, reason)) in _pending.ToList())
        {
            if (await RequestSafelyAsync(kind, slot, reason, cancellationToken))
            {
                _pending.Remove(kind);
            }
        }
    }

    // True once the slot is requested (here or by another scheduler). A failed publish (broker, Redis or MongoDB down)
    // is logged and the slot stays pending.
    private async Task<bool> RequestSafelyAsync(ScheduleKind kind, DateTimeOffset slot, string reason, CancellationToken cancellationToken)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var result = await scope.ServiceProvider.GetRequiredService<SlotRequester>().RequestAsync(kind, slot, reason, cancellationToken);
            return result != SlotRequest.InProgressElsewhere;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogRequestFailed(logger, kind, SnapshotIds.FromTime(slot), RetryInterval.TotalSeconds, ErrorText.Describe(e));
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "No schedule has a future occurrence; the scheduler idles")]
    private static partial void LogNoFutureOccurrence(ILogger logger);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not request {Kind} slot {SlotId}; asking again in {Seconds} s: {Error}")]
    private static partial void LogRequestFailed(ILogger logger, ScheduleKind kind, string slotId, double seconds, string error);
}

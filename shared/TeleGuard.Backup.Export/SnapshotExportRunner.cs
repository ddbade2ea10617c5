using System.Threading.Channels;
using MassTransit;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Export;

/// <summary>
/// Runs the exports that backups_meta holds, one at a time per process: requests accepted by
/// <see cref="SnapshotRequestedConsumer"/>, attempts that failed and are to be retried, and exports whose exporter died
/// or stopped (their lease expired); and announces snapshots recorded but never announced. The queue is backups_meta
/// itself, so nothing accepted is lost with a process; it is looked at when a request is accepted and every half lease.
/// Each export is claimed under the lease first, so two instances never export the same snapshot at once. After the
/// first attempt and RETRY_LIMIT retries a snapshot fails for good.
/// </summary>
public sealed partial class SnapshotExportRunner(
    SnapshotProducer producer,
    BackupsMetaStore meta,
    IServiceProvider services, // the bus, resolved only when announcing (after the application started)
    IHostApplicationLifetime lifetime,
    IOptions<SnapshotServiceOptions> options,
    IOptions<BusOptions> bus,
    ILogger<SnapshotExportRunner> logger) : BackgroundService
{
    // One pending wake-up is enough: the runner reads every waiting export from backups_meta when it wakes.
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    /// <summary>Looks for exports at once instead of at the next sweep.</summary>
    public void Wake() => _wake.Writer.TryWrite(true);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => RunAsync(stoppingToken);

    private async Task RunAsync(CancellationToken serviceStopping)
    {
        // Hosted services stop in reverse order, the bus before this one: an export stops (and gives its lease back)
        // as soon as the application begins to stop, while the bus still runs.
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(serviceStopping, lifetime.ApplicationStopping);
        var stoppingToken = stopping.Token;

        // Announcements go out on the bus, which starts with the application.
        if (!await WaitForStartAsync(stoppingToken))
        {
            return;
        }

        var sweep = options.Value.Lease / 2;
        while (!stoppingToken.IsCancellationRequested)
        {
            bool exported;
            try
            {
                exported = await RunNextAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // Logged by the producer when it is the export's failure; a retry waits for the next sweep.
                LogRunFailed(logger, ErrorText.Describe(e));
                exported = false;
            }

            if (exported)
            {
                continue; // the next one at once
            }

            using var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            wait.CancelAfter(sweep);
            try
            {
                await _wake.Reader.ReadAsync(wait.Token);
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
            {
                // The sweep period passed.
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    // True when an export was made; false when there was none to run or it failed (then it waits for the next sweep).
    private async Task<bool> RunNextAsync(CancellationToken stoppingToken)
    {
        var lease = options.Value.Lease;
        // Recorded but never announced: the exporter had a whole lease to publish after recording.
        while (await meta.TryClaimUnannouncedAsync(lease, stoppingToken) is { } recorded)
        {
            await producer.AnnounceRecordedAsync(recorded, services.GetRequiredService<IBus>(), stoppingToken);
        }

        while (await meta.FindExportToRunAsync(stoppingToken) is { } next)
        {
            // One owner per attempt: the lease tells a live attempt from a dead one, whatever the process.
            var owner = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}";
            var (claim, record) = await meta.TryClaimExportAsync(next.Id, owner, lease, stoppingToken);
            if (claim != ExportClaim.Acquired)
            {
                continue; // another instance took it (or finished it) in between
            }

            var attempt = record!.Export!.Attempts;
            if (attempt > 1)
            {
                LogResuming(logger, next.Id, attempt, next.Error);
            }

            await producer.ExportAsync(next.Id, owner, services.GetRequiredService<IBus>(), attempt > bus.Value.RetryLimit, stoppingToken);
            return true;
        }

        return false;
    }

    private async Task<bool> WaitForStartAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource();
        using var onStarted = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        using var onStopping = stoppingToken.Register(() => started.TrySetCanceled(stoppingToken));
        try
        {
            await started.Task;
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Snapshot {SnapshotId}: export attempt {Attempt} (the last one: {Error})")]
    private static partial void LogResuming(ILogger logger, string snapshotId, int attempt, string? error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Snapshot export runner: {Error}; looking again at the next sweep")]
    private static partial void LogRunFailed(ILogger logger, string error);
}

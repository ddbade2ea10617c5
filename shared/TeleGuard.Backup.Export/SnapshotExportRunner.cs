using System.Collections.Concurrent;
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
    IOptions<SnapshotExportRunnerOptions> runnerOptions,
    ILogger<SnapshotExportRunner> logger) : BackgroundService
{
    // The snapshots requested through this process (used when OnlyRequestsAcceptedHere).
    private readonly ConcurrentDictionary<string, bool> _acceptedHere = new(StringComparer.Ordinal);

    // One pending wake-up is enough: the runner reads every waiting export from backups_meta when it wakes.
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    /// <summary>Looks for exports at once instead of at the next sweep; <paramref name="snapshotId"/> was requested here.</summary>
    public void Wake(string snapshotId)
    {
        _acceptedHere.TryAdd(snapshotId, true);
        _wake.Writer.TryWrite(true);
    }

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
        try
        {
            await meta.EnsureStatusIndexAsync(stoppingToken);
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested)
        {
            LogIndexFailed(logger, ErrorText.Describe(e)); // the sweeps still work, reading more
        }

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
    // A record that cannot be taken (unreadable, refused by the server) is logged and passed over, so it never holds up
    // the others.
    private async Task<bool> RunNextAsync(CancellationToken stoppingToken)
    {
        var lease = options.Value.Lease;
        // A one-shot command's in-process runner does only what was requested through it: it exits when that is done, and
        // would cut off the others' work (its bus is in memory, so nothing it started would be delivered again).
        var onlyIds = runnerOptions.Value.OnlyRequestsAcceptedHere ? _acceptedHere.Keys.ToList() : null;
        if (onlyIds is null)
        {
            // Recorded but never announced: the exporter had a whole lease to publish after recording.
            while (await meta.TryClaimUnannouncedAsync(lease, stoppingToken) is { } recorded)
            {
                try
                {
                    await producer.AnnounceRecordedAsync(recorded, services.GetRequiredService<IBus>(), stoppingToken);
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                {
                    LogAnnouncementFailed(logger, recorded.Id, ErrorText.Describe(e)); // its claim runs out; tried again then
                }
            }
        }

        string? after = null;
        while (await meta.FindExportToRunAsync(onlyIds, after, stoppingToken) is { } next)
        {
            after = next.Id;
            // One owner per attempt: the lease tells a live attempt from a dead one, whatever the process.
            var owner = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}";
            BackupRecord? record;
            try
            {
                ExportClaim claim;
                (claim, record) = await meta.TryClaimExportAsync(next.Id, owner, lease, stoppingToken);
                if (claim != ExportClaim.Acquired)
                {
                    continue; // another instance took it (or finished it) in between
                }
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                LogCannotTake(logger, next.Id, ErrorText.Describe(e));
                continue;
            }

            var attempt = record!.Export!.Attempts;
            if (attempt > bus.Value.RetryLimit + 1)
            {
                // The final attempt's exporter died without recording an outcome (killed, out of memory): exporting again
                // would only repeat that.
                await meta.MarkExportFailedAsync(next.Id, owner, $"the exporter stopped without an outcome on its final attempt (last error: {next.Error ?? "none"})",
                    finalAttempt: true, stoppingToken);
                LogDiedOnFinalAttempt(logger, next.Id, attempt - 1);
                continue;
            }

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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Snapshot {SnapshotId}: the export runner could not take it ({Error}); passed over until the next sweep")]
    private static partial void LogCannotTake(ILogger logger, string snapshotId, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Snapshot {SnapshotId}: its late announcement failed ({Error}); tried again a lease later")]
    private static partial void LogAnnouncementFailed(ILogger logger, string snapshotId, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Snapshot {SnapshotId}: the exporter stopped without an outcome on its final attempt ({Attempts} attempts); failed for good")]
    private static partial void LogDiedOnFinalAttempt(ILogger logger, string snapshotId, int attempts);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Snapshot export runner: could not create the backups_meta index its sweeps read by ({Error}); they read the collection instead")]
    private static partial void LogIndexFailed(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Snapshot export runner: {Error}; looking again at the next sweep")]
    private static partial void LogRunFailed(ILogger logger, string error);
}

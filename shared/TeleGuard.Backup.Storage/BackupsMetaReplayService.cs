using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace TeleGuard.Backup.Storage;

/// <summary>
/// Writes the sink results that waited in Redis into <c>backups_meta</c> once MongoDB answers again, even in a process
/// that reads nothing (every read and write of <see cref="BackupsMetaStore"/> replays them first as well).
/// </summary>
public sealed partial class BackupsMetaReplayService(BackupsMetaStore meta, ILogger<BackupsMetaReplayService> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        do
        {
            try
            {
                await meta.ReplayPendingAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogReplayFailed(logger, e.GetType().Name);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replaying pending backups_meta writes failed: {Error}")]
    private static partial void LogReplayFailed(ILogger logger, string error);
}

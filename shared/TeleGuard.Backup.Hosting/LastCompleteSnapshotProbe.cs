using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Hosting;

/// <summary>Refreshes the age of the newest complete snapshot from backups_meta every 15 seconds.</summary>
public sealed partial class LastCompleteSnapshotProbe(BackupMetrics metrics, IServiceProvider services, TimeProvider time, ILogger<LastCompleteSnapshotProbe> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var latest = await services.GetRequiredService<BackupsMetaStore>().FindLatestCompleteAsync(stoppingToken);
                metrics.LastCompleteAge(latest is null ? null : time.GetUtcNow() - SnapshotIds.ToTime(latest.Id));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Describing the error is only worth it when debug logging is on.
                if (logger.IsEnabled(LogLevel.Debug))
                {
                    var error = ErrorText.Describe(e);
                    LogReadFailed(logger, error);
                }
            }

            await Task.Delay(TimeSpan.FromSeconds(15), time, stoppingToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not read the newest complete snapshot: {Error}")]
    private static partial void LogReadFailed(ILogger logger, string error);
}

using Microsoft.Extensions.Options;
using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>Runs retention once when the sink starts: catches up before Telegram's 48-hour deletion limit passes.</summary>
public sealed partial class TelegramRetentionOnStart(TelegramRetention retention, IOptions<TelegramSinkOptions> options, IHostApplicationLifetime lifetime,
    ILogger<TelegramRetentionOnStart> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Enabled)
        {
            return;
        }

        await lifetime.WaitForStartedAsync(stoppingToken);

        try
        {
            await retention.ApplyAsync(stoppingToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogStartUpRetentionFailed(logger, ErrorText.Describe(e));
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Telegram: start-up retention failed, the next cleanup retries: {Error}")]
    private static partial void LogStartUpRetentionFailed(ILogger logger, string error);
}

using Microsoft.Extensions.Options;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>
/// Every <c>TELEGRAM_INCREMENT_MINUTES</c> (at whole multiples of the period, UTC) sends the increments due as one batch
/// (<see cref="TelegramIncrementBatcher"/>), to stay well inside Telegram's flood limits. One instance per period: a
/// Redis claim of the period and a lease while sending (a batch still being sent when the next period starts makes that
/// period skip). Without Redis every instance tries, and the batch records decide: no increment is sent twice.
/// </summary>
public sealed partial class TelegramIncrementSender(
    TelegramIncrementBatcher batcher, RedisLocks locks, IOptions<TelegramSinkOptions> options, IHostApplicationLifetime lifetime, TimeProvider time,
    ILogger<TelegramIncrementSender> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Enabled)
        {
            return;
        }

        await lifetime.WaitForStartedAsync(stoppingToken);
        var period = options.Value.IncrementPeriod;
        while (!stoppingToken.IsCancellationRequested)
        {
            var now = time.GetUtcNow();
            var slot = now.ToUnixTimeSeconds() / (long)period.TotalSeconds + 1;
            await Task.Delay(DateTimeOffset.FromUnixTimeSeconds(slot * (long)period.TotalSeconds) - now, time, stoppingToken);
            try
            {
                await SendForSlotAsync(slot, period, stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                LogSendFailed(logger, ErrorText.Describe(e));
            }
        }
    }

    private async Task SendForSlotAsync(long slot, TimeSpan period, CancellationToken cancellationToken)
    {
        try
        {
            if (!await locks.TryClaimOnceAsync($"telegram:increments:slot:{slot}", period, cancellationToken))
            {
                return; // another instance sends in this period
            }
        }
        catch (RedisUnavailableException)
        {
            // Sent unclaimed; the batch records keep two senders from sending an increment twice.
        }

        RedisLease? lease;
        try
        {
            lease = await locks.AcquireAsync("telegram:increments:sending", TimeSpan.FromMinutes(2), TimeSpan.Zero, cancellationToken);
        }
        catch (TimeoutException)
        {
            return; // the previous period's batch is still being sent
        }

        await using (lease)
        {
            await batcher.SendDueAsync(cancellationToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Telegram: sending the increments due failed; the next period continues: {Error}")]
    private static partial void LogSendFailed(ILogger logger, string error);
}

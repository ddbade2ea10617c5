using Microsoft.Extensions.Hosting;

namespace TeleGuard.Backup.Hosting;

public static class HostLifetimeExtensions
{
    /// <summary>
    /// Completes once every hosted service, the bus included, has started (background work that publishes or reads
    /// must not run before); cancelled with <paramref name="stoppingToken"/>.
    /// </summary>
    public static async Task WaitForStartedAsync(this IHostApplicationLifetime lifetime, CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        {
            await started.Task.WaitAsync(stoppingToken);
        }
    }
}

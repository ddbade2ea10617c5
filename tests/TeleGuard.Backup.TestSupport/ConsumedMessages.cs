using System.Collections.Concurrent;
using MassTransit;

namespace TeleGuard.Backup.TestSupport;

/// <summary>
/// A MassTransit consume observer that keeps every delivery a host's consumers finished: its message, the queue it came
/// from, and whether the consumer succeeded or faulted (after the retries). Register it with
/// <c>services.AddConsumeObserver(_ => consumed)</c>. Tests wait until the deliveries they expect were consumed and then
/// assert their outcome, instead of waiting a while and assuming that nothing else arrives.
/// </summary>
public sealed class ConsumedMessages : IConsumeObserver
{
    private readonly ConcurrentQueue<ConsumedMessage> _finished = new();

    /// <summary>Finished deliveries of <typeparamref name="T"/> (from <paramref name="queue"/> when given).</summary>
    public IReadOnlyList<ConsumedMessage> Of<T>(string? queue = null) =>
        _finished.Where(m => m.Message is T && (queue is null || m.Queue == queue)).ToList();

    /// <summary>Waits until <paramref name="count"/> deliveries of <typeparamref name="T"/> have finished and returns them.</summary>
    public Task<IReadOnlyList<ConsumedMessage>> WaitForAsync<T>(int count, TimeSpan timeout, string? queue = null) =>
        TestHosts.EventuallyAsync(() => Task.FromResult(Of<T>(queue) is { } done && done.Count >= count ? done : null),
            timeout, $"{count} deliveries of {typeof(T).Name}{(queue is null ? "" : " from " + queue)} to be consumed");

    public Task PreConsume<T>(ConsumeContext<T> context) where T : class => Task.CompletedTask;

    public Task PostConsume<T>(ConsumeContext<T> context) where T : class
    {
        _finished.Enqueue(new ConsumedMessage(context.Message, QueueOf(context), context.ReceiveContext.Redelivered, Fault: null));
        return Task.CompletedTask;
    }

    public Task ConsumeFault<T>(ConsumeContext<T> context, Exception exception) where T : class
    {
        _finished.Enqueue(new ConsumedMessage(context.Message, QueueOf(context), context.ReceiveContext.Redelivered, exception));
        return Task.CompletedTask;
    }

    // The input address ends with the queue's name (rabbitmq://host/vhost/queue, loopback://localhost/queue).
    private static string QueueOf(ConsumeContext context) => context.ReceiveContext.InputAddress.AbsolutePath.Split('/')[^1];
}

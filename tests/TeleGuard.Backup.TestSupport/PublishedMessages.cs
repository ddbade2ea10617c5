using System.Collections.Concurrent;
using MassTransit;

namespace TeleGuard.Backup.TestSupport;

/// <summary>
/// A MassTransit publish observer that keeps every message a host published to the broker. Register it with
/// <c>services.AddPublishObserver(_ => published)</c>. Every publish a consumer makes is sent before its delivery
/// finishes, so once a delivery was consumed (<see cref="ConsumedMessages"/>) this list holds all it published.
/// </summary>
public sealed class PublishedMessages : IPublishObserver
{
    private readonly ConcurrentQueue<object> _sent = new();

    public IReadOnlyList<T> Of<T>() => _sent.OfType<T>().ToList();

    public Task PrePublish<T>(PublishContext<T> context) where T : class => Task.CompletedTask;

    public Task PostPublish<T>(PublishContext<T> context) where T : class
    {
        _sent.Enqueue(context.Message);
        return Task.CompletedTask;
    }

    public Task PublishFault<T>(PublishContext<T> context, Exception exception) where T : class => Task.CompletedTask;
}

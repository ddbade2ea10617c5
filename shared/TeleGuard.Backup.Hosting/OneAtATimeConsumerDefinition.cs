using MassTransit;

namespace TeleGuard.Backup.Hosting;

/// <summary>
/// A consumer on its own named queue that handles one message at a time per instance and prefetches only that one:
/// exports, commits and uploads are heavy and ordered, and more instances share the queue as competing consumers.
/// </summary>
public abstract class OneAtATimeConsumerDefinition<TConsumer> : ConsumerDefinition<TConsumer>
    where TConsumer : class, IConsumer
{
    protected OneAtATimeConsumerDefinition(string endpointName)
    {
        EndpointName = endpointName;
        ConcurrentMessageLimit = 1;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<TConsumer> consumerConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.PrefetchCount = 1;
    }
}

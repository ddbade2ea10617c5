using MassTransit;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Sinks;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.GitHub;

public sealed class SnapshotCreatedConsumer(SnapshotSinkRunner runner, GitHubSnapshotPublisher publisher, IOptions<GitHubSinkOptions> options)
    : IConsumer<SnapshotCreated>
{
    public Task Consume(ConsumeContext<SnapshotCreated> context) =>
        runner.RunAsync(BackupSinks.GitHub, options.Value.Enabled, context, ct => publisher.PublishAsync(context.Message, ct));
}

public sealed class SnapshotCreatedConsumerDefinition : ConsumerDefinition<SnapshotCreatedConsumer>
{
    public SnapshotCreatedConsumerDefinition()
    {
        EndpointName = "teleguard-github";
        // Commits go one at a time per instance (and per repository across instances, by lock), in arrival order.
        ConcurrentMessageLimit = 1;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<SnapshotCreatedConsumer> consumerConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.PrefetchCount = 1;
    }
}

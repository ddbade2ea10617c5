using MassTransit;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations.GitHub;

/// <summary>Copies each increment to the private branch; the outcome goes to the increment's <c>sinks.github</c>.</summary>
public sealed class IncrementCreatedConsumer(
    GitHubIncrementPublisher publisher,
    IncrementsStore increments,
    IOptions<GitHubSinkOptions> options,
    IOptions<BusOptions> bus,
    IOptions<SinkLeaseOptions> lease,
    TimeProvider time,
    ILogger<IncrementCreatedConsumer> logger) : IncrementCreatedConsumerBase(increments, bus.Value, lease.Value, time, logger)
{
    protected override string Sink => BackupSinks.GitHub;

    protected override bool Enabled => options.Value.Enabled;

    protected override async Task<SinkLocation> PublishAsync(IncrementCreated increment, bool predecessorFailed, CancellationToken cancellationToken) =>
        await publisher.PublishAsync(increment, predecessorFailed, cancellationToken);
}

/// <summary>
/// Several at a time: fetching and checking an artifact overlaps another's commit. Commits still go one at a time (the
/// clone's lock and the branch lock), an increment that arrives before its predecessor is parked rather than held (see
/// <see cref="IncrementCreatedConsumerBase"/>), and a redelivery finds its increment recorded or on the branch.
/// </summary>
public sealed class IncrementCreatedConsumerDefinition : ConsumerDefinition<IncrementCreatedConsumer>
{
    public IncrementCreatedConsumerDefinition()
    {
        EndpointName = "teleguard-github-increments";
        ConcurrentMessageLimit = 4;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<IncrementCreatedConsumer> consumerConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.PrefetchCount = 4;
    }
}

using MassTransit;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.Destinations.GitHub;

/// <summary>The scheduled restore drill of this destination, run by its own service with its own configuration.</summary>
public sealed class RestoreDrillRequestedConsumer(GitHubDestination destination, RestoreDrill drill) : IConsumer<RestoreDrillRequested>
{
    public Task Consume(ConsumeContext<RestoreDrillRequested> context) =>
        drill.RunRequestedAsync(destination, context.Message, context.CancellationToken);
}

public sealed class RestoreDrillRequestedConsumerDefinition() : OneAtATimeConsumerDefinition<RestoreDrillRequestedConsumer>("teleguard-github-drill");

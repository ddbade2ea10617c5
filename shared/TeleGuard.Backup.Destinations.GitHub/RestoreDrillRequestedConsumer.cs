using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.Destinations.GitHub;

/// <summary>The scheduled restore drill of this destination (see <see cref="RestoreDrillRequestedConsumerBase{TDestination}"/>).</summary>
public sealed class RestoreDrillRequestedConsumer(GitHubDestination destination, RestoreDrill drill)
    : RestoreDrillRequestedConsumerBase<GitHubDestination>(destination, drill);

public sealed class RestoreDrillRequestedConsumerDefinition() : OneAtATimeConsumerDefinition<RestoreDrillRequestedConsumer>("teleguard-github-drill");

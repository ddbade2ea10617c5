using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.Destinations.Public;

/// <summary>The scheduled restore drill of this destination (see <see cref="RestoreDrillRequestedConsumerBase{TDestination}"/>).</summary>
public sealed class RestoreDrillRequestedConsumer(PublicDestination destination, RestoreDrill drill)
    : RestoreDrillRequestedConsumerBase<PublicDestination>(destination, drill);

public sealed class RestoreDrillRequestedConsumerDefinition() : OneAtATimeConsumerDefinition<RestoreDrillRequestedConsumer>("teleguard-public-drill");

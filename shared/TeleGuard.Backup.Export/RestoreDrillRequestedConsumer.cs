using TeleGuard.Backup.Destinations;
using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.Export;

/// <summary>The scheduled restore drill of this destination (see <see cref="RestoreDrillRequestedConsumerBase{TDestination}"/>).</summary>
public sealed class RestoreDrillRequestedConsumer(ArtifactStoreDestination destination, RestoreDrill drill)
    : RestoreDrillRequestedConsumerBase<ArtifactStoreDestination>(destination, drill);

public sealed class RestoreDrillRequestedConsumerDefinition() : OneAtATimeConsumerDefinition<RestoreDrillRequestedConsumer>("teleguard-snapshot-drill");

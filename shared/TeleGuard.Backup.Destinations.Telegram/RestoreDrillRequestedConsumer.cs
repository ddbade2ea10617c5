using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>The scheduled restore drill of this destination (see <see cref="RestoreDrillRequestedConsumerBase{TDestination}"/>).</summary>
public sealed class RestoreDrillRequestedConsumer(TelegramDestination destination, RestoreDrill drill)
    : RestoreDrillRequestedConsumerBase<TelegramDestination>(destination, drill);

public sealed class RestoreDrillRequestedConsumerDefinition() : OneAtATimeConsumerDefinition<RestoreDrillRequestedConsumer>("teleguard-telegram-drill");

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>A transient Bot API failure (retried by the bus).</summary>
/// <param name="Refused">Telegram answered with an error (so nothing was accepted), as opposed to no answer at all.</param>
public sealed class TelegramCallException(string message, bool refused = false) : Exception(message)
{
    public bool Refused { get; } = refused;
}

namespace TeleGuard.Backup.TestSupport;

/// <summary>One delivery a consumer finished, as <see cref="ConsumedMessages"/> keeps it.</summary>
/// <param name="Queue">The queue it came from.</param>
/// <param name="Redelivered">The broker delivered the message before (its earlier delivery was never acknowledged).</param>
/// <param name="Fault">Why the consumer failed for good; null when it succeeded.</param>
public sealed record ConsumedMessage(object Message, string Queue, bool Redelivered, Exception? Fault);

namespace TeleGuard.Backup.Destinations;

/// <summary>An increment arrived before its predecessor reached the branch; retried later (the predecessor is on its way).</summary>
public sealed class IncrementOutOfOrderException(string message) : Exception(message);

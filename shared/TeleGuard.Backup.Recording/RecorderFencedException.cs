namespace TeleGuard.Backup.Recording;

/// <summary>Another recorder continued the chain: this one must reload its position from the records, never overwrite them.</summary>
public sealed class RecorderFencedException(string message) : Exception(message);

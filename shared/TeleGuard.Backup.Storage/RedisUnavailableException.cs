namespace TeleGuard.Backup.Storage;

public sealed class RedisUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

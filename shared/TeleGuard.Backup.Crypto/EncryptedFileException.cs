namespace TeleGuard.Backup.Crypto;

public sealed class EncryptedFileException(string message) : Exception(message);

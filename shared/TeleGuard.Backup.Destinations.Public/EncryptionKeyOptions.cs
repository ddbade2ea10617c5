namespace TeleGuard.Backup.Destinations.Public;

/// <summary><c>ENCRYPTION_KEY</c> (base64 of 32 bytes, encrypts) and <c>ENCRYPTION_PREVIOUS_KEYS</c> (comma-separated, still decrypt).</summary>
public static class EncryptionKeyOptions
{
    public const string KeyVariable = "ENCRYPTION_KEY";
    public const string PreviousKeysVariable = "ENCRYPTION_PREVIOUS_KEYS";
}

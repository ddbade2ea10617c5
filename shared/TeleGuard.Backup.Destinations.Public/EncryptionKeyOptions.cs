using TeleGuard.Backup.Configuration;
using TeleGuard.Backup.Crypto;

namespace TeleGuard.Backup.Destinations.Public;

/// <summary><c>ENCRYPTION_KEY</c> (base64 of 32 bytes, encrypts) and <c>ENCRYPTION_PREVIOUS_KEYS</c> (comma-separated, still decrypt).</summary>
public static class EncryptionKeyOptions
{
    public const string KeyVariable = "ENCRYPTION_KEY";
    public const string PreviousKeysVariable = "ENCRYPTION_PREVIOUS_KEYS";

    /// <summary>The key ring, or null after recording what is wrong (never the values).</summary>
    public static EncryptionKeyRing? ReadKeyRing(SettingsReader settings, bool required) =>
        EncryptionKeySettings.Read(settings, KeyVariable, PreviousKeysVariable, required);
}

using TeleGuard.Backup.Configuration;
using TeleGuard.Backup.Crypto;

namespace TeleGuard.Backup.Encryption;

/// <summary><c>ENCRYPTION_KEY</c> (base64 of 32 bytes, encrypts) and <c>ENCRYPTION_PREVIOUS_KEYS</c> (comma-separated, still decrypt).</summary>
public static class EncryptionKeyOptions
{
    public const string KeyVariable = "ENCRYPTION_KEY";
    public const string PreviousKeysVariable = "ENCRYPTION_PREVIOUS_KEYS";

    /// <summary>The key ring, or null after recording what is wrong (never the values).</summary>
    public static EncryptionKeyRing? ReadKeyRing(SettingsReader settings, bool required)
    {
        var text = settings.Optional(KeyVariable);
        if (text is null)
        {
            if (required)
            {
                settings.Fail(KeyVariable, "is required (generate one with `teleguard-backup keygen`)");
            }

            return null;
        }

        var primary = EncryptionKeyRing.ParseKey(text);
        if (primary is null)
        {
            settings.Fail(KeyVariable, "must be base64 of exactly 32 bytes (generate one with `teleguard-backup keygen`)");
            return null;
        }

        var previous = new List<byte[]>();
        var entries = (settings.Optional(PreviousKeysVariable) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        for (var i = 0; i < entries.Length; i++)
        {
            if (EncryptionKeyRing.ParseKey(entries[i]) is { } key)
            {
                previous.Add(key);
            }
            else
            {
                settings.Fail(PreviousKeysVariable, $"entry {i + 1} is not base64 of exactly 32 bytes");
            }
        }

        return new EncryptionKeyRing(primary, previous);
    }
}

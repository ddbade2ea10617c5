using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Crypto;

/// <summary>
/// A key variable (base64 of 32 bytes: the key that encrypts) and its previous-keys variable (comma-separated older keys
/// that still decrypt), as <c>ENCRYPTION_KEY</c> / <c>ENCRYPTION_PREVIOUS_KEYS</c> and <c>TELEGRAM_ENCRYPTION_KEY</c> /
/// <c>TELEGRAM_ENCRYPTION_PREVIOUS_KEYS</c> are read.
/// </summary>
public static class EncryptionKeySettings
{
    /// <summary>The key ring, or null when the key is not set or after recording what is wrong (never the values).</summary>
    public static EncryptionKeyRing? Read(SettingsReader settings, string keyVariable, string previousKeysVariable, bool required)
    {
        var text = settings.Optional(keyVariable);
        var previousText = settings.Optional(previousKeysVariable);
        if (text is null)
        {
            if (required)
            {
                settings.Fail(keyVariable, "is required (generate one with `teleguard-backup keygen`)");
            }
            else if (previousText is not null)
            {
                settings.Fail(previousKeysVariable, $"is set without {keyVariable}: older keys only decrypt, the current key is needed too");
            }

            return null;
        }

        var primary = EncryptionKeyRing.ParseKey(text);
        if (primary is null)
        {
            settings.Fail(keyVariable, "must be base64 of exactly 32 bytes (generate one with `teleguard-backup keygen`)");
            return null;
        }

        var previous = new List<byte[]>();
        var entries = (previousText ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        for (var i = 0; i < entries.Length; i++)
        {
            if (EncryptionKeyRing.ParseKey(entries[i]) is { } key)
            {
                previous.Add(key);
            }
            else
            {
                settings.Fail(previousKeysVariable, $"entry {i + 1} is not base64 of exactly 32 bytes");
            }
        }

        return new EncryptionKeyRing(primary, previous);
    }
}

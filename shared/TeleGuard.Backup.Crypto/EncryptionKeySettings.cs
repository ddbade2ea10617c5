using Microsoft.Extensions.Options;
using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Crypto;

/// <summary>
/// A key variable (base64 of 32 bytes: the key that encrypts) and its previous-keys variable (comma-separated older keys
/// that still decrypt), as <c>ENCRYPTION_KEY</c> / <c>ENCRYPTION_PREVIOUS_KEYS</c> and <c>TELEGRAM_ENCRYPTION_KEY</c> /
/// <c>TELEGRAM_ENCRYPTION_PREVIOUS_KEYS</c> are set. The key's form is checked by <see cref="EncryptionKeyAttribute"/>;
/// here, the previous keys, which count only with the key.
/// </summary>
public static class EncryptionKeySettings
{
    /// <summary>Adds what is missing between the two variables, and each previous key that is not one (never their values).</summary>
    public static void CheckPair(ValidateOptionsResultBuilder result, string keyVariable, string? key, string previousKeysVariable, string? previousKeys, bool required)
    {
        ArgumentNullException.ThrowIfNull(result);
        if (key is not null)
        {
            var entries = Entries(previousKeys);
            for (var i = 0; i < entries.Length; i++)
            {
                if (EncryptionKeyRing.ParseKey(entries[i]) is null)
                {
                    result.AddError(Setting.Problem(previousKeysVariable, $"entry {i + 1} is not base64 of exactly 32 bytes"));
                }
            }
        }
        else if (required)
        {
            result.AddError(Setting.Problem(keyVariable, "is required (generate one with `teleguard-backup keygen`)"));
        }
        else if (previousKeys is not null)
        {
            result.AddError(Setting.Problem(previousKeysVariable, $"is set without {keyVariable}: older keys only decrypt, the current key is needed too"));
        }
    }

    /// <summary>The key ring of checked settings, or null when the key is not set.</summary>
    public static EncryptionKeyRing? Ring(string? key, string? previousKeys) =>
        EncryptionKeyRing.ParseKey(key) is { } primary
            ? new EncryptionKeyRing(primary, Entries(previousKeys).Select(EncryptionKeyRing.ParseKey).OfType<byte[]>())
            : null;

    private static string[] Entries(string? previousKeys) =>
        (previousKeys ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

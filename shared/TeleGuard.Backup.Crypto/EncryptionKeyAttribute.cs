using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Crypto;

/// <summary>Unset, or base64 of exactly 32 bytes.</summary>
public sealed class EncryptionKeyAttribute : SettingRuleAttribute
{
    protected override string? ProblemWith(string? text) =>
        text is null || EncryptionKeyRing.ParseKey(text) is not null
            ? null
            : "must be base64 of exactly 32 bytes (generate one with `teleguard-backup keygen`)";
}

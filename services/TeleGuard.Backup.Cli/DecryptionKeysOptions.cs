using Microsoft.Extensions.Configuration;
using TeleGuard.Backup.Configuration;
using TeleGuard.Backup.Crypto;
using TeleGuard.Backup.Destinations.Public;
using TeleGuard.Backup.Destinations.Telegram;

namespace TeleGuard.Backup.Cli;

/// <summary>The keys <c>decrypt</c> may use: those of the public copies and of the Telegram copies, with their previous keys.</summary>
public sealed class DecryptionKeysOptions
{
    [ConfigurationKeyName(EncryptionKeyOptions.KeyVariable)]
    [EncryptionKey]
    public string? PublicKey { get; set => field = Setting.Clean(value); }

    [ConfigurationKeyName(EncryptionKeyOptions.PreviousKeysVariable)]
    public string? PublicPreviousKeys { get; set => field = Setting.Clean(value); }

    [ConfigurationKeyName(TelegramSinkOptions.EncryptionKeyVariable)]
    [EncryptionKey]
    public string? TelegramKey { get; set => field = Setting.Clean(value); }

    [ConfigurationKeyName(TelegramSinkOptions.EncryptionPreviousKeysVariable)]
    public string? TelegramPreviousKeys { get; set => field = Setting.Clean(value); }

    /// <summary>Every key set (the public key encrypts first), or null when none is.</summary>
    public EncryptionKeyRing? Keys =>
        (EncryptionKeySettings.Ring(PublicKey, PublicPreviousKeys), EncryptionKeySettings.Ring(TelegramKey, TelegramPreviousKeys)) switch
        {
            ({ } publicKeys, { } telegramKeys) => EncryptionKeyRing.Union(publicKeys, telegramKeys),
            (var publicKeys, var telegramKeys) => publicKeys ?? telegramKeys,
        };
}

using System.IO.Compression;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Crypto;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>
/// Reads a snapshot back from Telegram: the parts recorded in backups_meta, downloaded with getFile, checked, joined, decrypted when the copy is
/// encrypted (with TELEGRAM_ENCRYPTION_KEY or TELEGRAM_ENCRYPTION_PREVIOUS_KEYS; a missing or wrong key is said before
/// anything is downloaded), unpacked. Copies made without encryption restore whatever keys are set.
/// </summary>
public sealed class TelegramDestination(IOptions<TelegramSinkOptions> configured, IServiceProvider services) : IBackupDestination
{
    public string Name => BackupSinks.Telegram;

    public bool IsEnabled => configured.Value.Enabled;

    public string EnabledBy =>
        $"{TelegramSinkOptions.TokenVariable} and {TelegramSinkOptions.ChannelVariable} (and {TelegramSinkOptions.BaseUrlVariable} with {TelegramSinkOptions.LocalApiVariable}=true for a local server)";

    public bool ReadsBackupsMeta => true;

    public string DescribeCopy(SinkRecord copy) => copy.LocationAs<TelegramLocation>() is { } location
        ? CopyDescription.Join(Messages(location), CopyDescription.Key(location.KeyId))
        : CopyDescription.Join();

    public string? DescribeRemoval(SinkRecord copy) => copy.RemovalAs<TelegramRemoval>() is { UndeletableMessageIds.Count: > 0 and var stayed }
        ? $"{stayed} messages too old for a bot to delete stay: delete them by hand"
        : null;

    // "2 of 3 parts as messages 10, 11 in chat -100…".
    private static string Messages(TelegramLocation location)
    {
        var ids = location.Parts.Select(p => p.MessageId).ToList();
        return $"{ids.Count} of {location.PartCount} parts as messages {(ids.Count == 0 ? "(none yet)" : string.Join(", ", ids))} in chat {location.ChatId ?? "?"}";
    }

    public async Task<SnapshotManifest> FetchAsync(string snapshot, string folder, CancellationToken cancellationToken)
    {
        var options = configured.Value;
        if (!options.Enabled)
        {
            throw new InvalidOperationException($"--from {Name} needs {EnabledBy}.");
        }

        // Resolved here, not injected: a host that only restores from a repository needs no MONGODB_URI.
        var meta = services.GetRequiredService<BackupsMetaStore>();

        var record = snapshot == "latest"
            ? await meta.FindLatestSucceededAsync(BackupSinks.Telegram, cancellationToken)
            : await meta.GetAsync(snapshot, cancellationToken);
        var location = record?.Sinks.GetValueOrDefault(BackupSinks.Telegram) is { Status: SinkStatus.Succeeded, RemovedAt: null } copy
            ? copy.LocationAs<TelegramLocation>()
            : null;
        if (record is null || location is null)
        {
            throw new InvalidOperationException($"Snapshot {snapshot} has no Telegram copy recorded in backups_meta.");
        }

        var parts = location.Parts.OrderBy(p => p.Index).ToList();
        if (!options.LocalApi && parts.FirstOrDefault(p => p.Size > TelegramLimits.HostedDownloadBytes) is { } tooLarge)
        {
            // Said before downloading anything: getFile would refuse this part after the others had been fetched.
            throw new InvalidOperationException(
                $"Snapshot {record.Id}: Telegram part {tooLarge.Index} is {tooLarge.Size} bytes, more than the hosted Bot API serves (20 MB); " +
                $"restore it through a local Bot API server ({TelegramSinkOptions.BaseUrlVariable} and {TelegramSinkOptions.LocalApiVariable}=true).");
        }

        var keys = location.Encrypted ? TelegramKeysFor(record.Id, location, options) : null;
        using var channel = new TelegramChannel(configured, TimeProvider.System, NullLogger<TelegramChannel>.Instance);
        var archive = folder + ".telegram";
        try
        {
            await using (var output = File.Create(archive))
            {
                foreach (var part in parts)
                {
                    // Each part through a file: local-server parts can be hundreds of megabytes.
                    var partFile = archive + ".part";
                    await using (var download = File.Create(partFile))
                    {
                        await channel.DownloadAsync(part.FileId, download, cancellationToken);
                    }

                    await using (var downloaded = File.OpenRead(partFile))
                    {
                        if (Convert.ToHexStringLower(await SHA256.HashDataAsync(downloaded, cancellationToken)) != part.Sha256)
                        {
                            throw new InvalidDataException($"Snapshot {record.Id}: Telegram part {part.Index} (message {part.MessageId}) does not match its recorded SHA-256.");
                        }

                        downloaded.Position = 0;
                        await downloaded.CopyToAsync(output, cancellationToken);
                    }

                    File.Delete(partFile);
                }
            }

            await using (var check = File.OpenRead(archive))
            {
                if (Convert.ToHexStringLower(await SHA256.HashDataAsync(check, cancellationToken)) != location.ArchiveSha256)
                {
                    throw new InvalidDataException($"Snapshot {record.Id}: the joined Telegram parts do not match the archive's recorded SHA-256.");
                }
            }

            SnapshotManifest manifest;
            if (keys is null)
            {
                await using var compressed = File.OpenRead(archive);
                await using var tar = new GZipStream(compressed, CompressionMode.Decompress);
                manifest = await SnapshotArchive.ExtractAsync(tar, folder, cancellationToken);
            }
            else
            {
                try
                {
                    await using var ciphertext = File.OpenRead(archive);
                    await EncryptedArchive.DecryptAsync(ciphertext, archive + ".tar", keys, record.Id);
                }
                catch (EncryptedFileException e)
                {
                    throw new EncryptedFileException($"Snapshot {record.Id}: the Telegram copy: {e.Message}");
                }

                await using var tar = File.OpenRead(archive + ".tar");
                manifest = await SnapshotArchive.ExtractAsync(tar, folder, cancellationToken);
            }

            return FetchedCopy.EnsureHolds(manifest, record.Id, folder, "the Telegram copy");
        }
        finally
        {
            File.Delete(archive);
            File.Delete(archive + ".part");
            File.Delete(archive + ".tar");
        }
    }

    // The keys that decrypt an encrypted Telegram copy, or a one-line refusal naming the key it needs (its id only).
    private static EncryptionKeyRing TelegramKeysFor(string snapshotId, TelegramLocation location, TelegramSinkOptions options)
    {
        // From backups_meta: printed only when it has the shape of a key id.
        var recorded = location.KeyId ?? "";
        var keyId = recorded.Length == 16 && recorded.All(char.IsAsciiHexDigitLower) ? recorded : "(unreadable id)";
        if (options.EncryptionKeys is not { } keys)
        {
            throw new InvalidOperationException(
                $"Snapshot {snapshotId}: the Telegram copy is encrypted with key {keyId}; set {TelegramSinkOptions.EncryptionKeyVariable} " +
                $"(or {TelegramSinkOptions.EncryptionPreviousKeysVariable}) to that key to restore it.");
        }

        if (!keys.KeyIds.Contains(recorded))
        {
            throw new InvalidOperationException(
                $"Snapshot {snapshotId}: the Telegram copy is encrypted with key {keyId}, which is neither {TelegramSinkOptions.EncryptionKeyVariable} " +
                $"(key {keys.PrimaryKeyId}) nor among {TelegramSinkOptions.EncryptionPreviousKeysVariable}.");
        }

        return keys;
    }
}

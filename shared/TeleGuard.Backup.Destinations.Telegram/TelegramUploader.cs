using Microsoft.Extensions.Options;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Crypto;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>
/// Uploads a snapshot to the channel: the artifact gzip-compressed into one archive (encrypted, with
/// <c>TELEGRAM_ENCRYPTION_KEY</c>, in the format of the public copies), sent in parts of at most
/// <c>TELEGRAM_PART_SIZE_MB</c>, each captioned with the snapshot id, i/n, the archive size and SHA-256, through
/// <see cref="TelegramArchiveSender"/> (which records each part's intent and message id). A retry or redelivery sends
/// only the parts not recorded. Only the holder of the sink's lease records anything; an attempt that lost it deletes
/// the part it just sent.
/// </summary>
public sealed class TelegramUploader(
    TelegramArchiveSender sender,
    SnapshotArtifactFetcher fetcher,
    BackupsMetaStore meta,
    IOptions<TelegramSinkOptions> options,
    IOptions<WorkDirectoryOptions> workDirectory)
{
    /// <param name="owner">The attempt's lease owner: progress is recorded only while it holds the lease.</param>
    /// <param name="cancellationToken">Cancelled when the lease is lost; a part already on its way is let finish (its id is needed to delete it).</param>
    public async Task<TelegramLocation> UploadAsync(SnapshotCreated snapshot, string owner, CancellationToken cancellationToken)
    {
        var id = snapshot.SnapshotId;
        // A folder of its own, removed when done; one a killed process left is removed by the next upload.
        using var folder = WorkFolder.Create(workDirectory.Value.Path, "telegram", id);
        var work = folder.Path;
        var compressed = Path.Combine(work, $"teleguard-{id}.tar.gz");
        await fetcher.CompressVerifiedAsync(snapshot, compressed, cancellationToken);
        var keys = options.Value.EncryptionKeys;
        var archive = keys is null ? compressed : await EncryptAsync(compressed, keys, id, cancellationToken);
        var size = new FileInfo(archive).Length;
        var sha256 = await Sha256Async(archive, cancellationToken);

        // Parts already on the channel for this very archive (gzip output is deterministic for the same artifact, and so
        // is its encryption: see EncryptAsync).
        var previous = (await meta.GetAsync(id, cancellationToken))?.Sinks.GetValueOrDefault(BackupSinks.Telegram)?.LocationAs<TelegramLocation>();
        var label = $"snapshot {id}";
        var (location, superseded) = sender.Continue(label, previous, options.Value.Channel, size, sha256, options.Value.PartSizeBytes, keys);
        if (superseded.Count > 0)
        {
            // Parts of another archive (the part size or the key changed): not part of this copy, deleted with it.
            await meta.RecordSinkOrphansAsync(id, BackupSinks.Telegram, superseded, cancellationToken);
        }

        await sender.SendAsync(label, archive, location,
            (index, count) => PartCaption.For(id, index, count, size, sha256, keys?.PrimaryKeyId),
            (progress, ct) => meta.UpdateSinkProgressAsync(id, BackupSinks.Telegram, owner, progress, ct),
            orphans => meta.RecordSinkOrphansAsync(id, BackupSinks.Telegram, orphans, CancellationToken.None),
            () => new SinkLeaseLostException(BackupSinks.Telegram, id),
            cancellationToken);
        return location;
    }

    // The compressed archive encrypted with the primary key (its plaintext deleted at once). The salt is derived from the
    // key and the compressed archive instead of drawn at random, so a retry makes the same bytes and sends only the parts
    // not recorded; a different archive gets a different salt, so no nonce is used twice under one chunk key.
    internal static async Task<string> EncryptAsync(string compressed, EncryptionKeyRing keys, string id, CancellationToken cancellationToken)
    {
        var encrypted = Path.Combine(Path.GetDirectoryName(compressed)!, $"teleguard-{id}.tgb");
        await using (var plaintext = File.OpenRead(compressed))
        await using (var output = File.Create(encrypted))
        {
            await StreamingEncryption.EncryptRepeatableAsync(plaintext, output, keys, id, cancellationToken);
        }

        File.Delete(compressed);
        return encrypted;
    }

    internal static async Task<string> Sha256Async(string file, CancellationToken cancellationToken)
    {
        await using var stream = File.OpenRead(file);
        return Convert.ToHexStringLower(await System.Security.Cryptography.SHA256.HashDataAsync(stream, cancellationToken));
    }
}

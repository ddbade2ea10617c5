using TeleGuard.Backup.Crypto;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Destinations;

/// <summary>An encrypted copy (public or Telegram): decrypted, then gunzipped, into the snapshot archive (a tar file).</summary>
public static class EncryptedArchive
{
    /// <summary>
    /// Writes the archive to <paramref name="tarPath"/>, each chunk only once its tag verified. Throws
    /// <see cref="EncryptedFileException"/> (or <see cref="InvalidDataException"/> for bad gzip inside) on any failure:
    /// the caller deletes what was written.
    /// </summary>
    /// <param name="snapshotId">The snapshot the file must hold; null accepts any (the returned header says which).</param>
    public static async Task<EncryptedFileHeader> DecryptAsync(Stream ciphertext, string tarPath, EncryptionKeyRing keys, string? snapshotId)
    {
        await using var plaintext = File.Create(tarPath);
        await using var gunzip = new DecompressingWriteStream(plaintext);
        var header = await StreamingEncryption.DecryptAsync(ciphertext, gunzip, keys, snapshotId, CancellationToken.None);
        await gunzip.FinishAsync();
        return header;
    }
}

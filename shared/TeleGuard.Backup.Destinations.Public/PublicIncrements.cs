using System.IO.Compression;
using TeleGuard.Backup.Crypto;

namespace TeleGuard.Backup.Destinations.Public;

/// <summary>
/// Where the public branch keeps increments (<c>increments/BASE/ID.tgb</c>, one folder per base snapshot) and how each
/// file is made: the increment archive gzip-compressed, then encrypted as a snapshot is, the increment id in the header.
/// </summary>
public static class PublicIncrements
{
    public const string Folder = "increments";

    public const string Extension = ".tgb";

    public static string PathOf(string baseSnapshotId, string incrementId) => $"{Folder}/{baseSnapshotId}/{incrementId}{Extension}";

    /// <summary>Writes the file of increment <paramref name="incrementId"/> from its archive, encrypted with the ring's primary key.</summary>
    public static async Task EncryptAsync(string archive, string encrypted, EncryptionKeyRing keys, string incrementId, CancellationToken cancellationToken)
    {
        var compressed = encrypted + ".gz";
        try
        {
            await using (var input = File.OpenRead(archive))
            await using (var output = File.Create(compressed))
            await using (var gzip = new GZipStream(output, CompressionLevel.Optimal))
            {
                await input.CopyToAsync(gzip, cancellationToken);
            }

            await using var plaintext = File.OpenRead(compressed);
            await using var ciphertext = File.Create(encrypted);
            await StreamingEncryption.EncryptAsync(plaintext, ciphertext, keys, incrementId, cancellationToken);
        }
        finally
        {
            File.Delete(compressed);
        }
    }

    /// <summary>
    /// Decrypts the file of increment <paramref name="incrementId"/> into its archive at <paramref name="archive"/>.
    /// Throws <see cref="EncryptedFileException"/> or <see cref="InvalidDataException"/> when it does not decrypt with the
    /// ring or its header does not name that increment; the caller deletes what was written.
    /// </summary>
    public static async Task DecryptAsync(string file, string archive, EncryptionKeyRing keys, string incrementId)
    {
        await using var ciphertext = File.OpenRead(file);
        var header = await EncryptedArchive.DecryptAsync(ciphertext, archive, keys, incrementId);
        if (header.SnapshotId != incrementId)
        {
            throw new InvalidDataException($"its header does not name increment {incrementId}.");
        }
    }
}

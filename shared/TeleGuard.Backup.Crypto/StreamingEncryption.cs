using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace TeleGuard.Backup.Crypto;

/// <summary>
/// The TeleGuard encrypted-file format, version 1 (docs/encryption-format.md): a 52-byte header (magic "TGBE",
/// version, algorithm, key id, random salt, chunk size), then the plaintext in fixed-size chunks, each sealed with
/// AES-256-GCM under a key derived for this file by HKDF-SHA256(master key, salt) and a nonce made of the chunk's
/// counter and a last-chunk flag, with the header as associated data. Memory is two chunks whatever the size.
/// </summary>
public static class StreamingEncryption
{
    public const int HeaderBytes = 52;
    public const int TagBytes = 16;
    public const int DefaultChunkBytes = 1024 * 1024;
    public const int MinChunkBytes = 16;
    public const int MaxChunkBytes = 64 * 1024 * 1024;
    public const byte Version = 1;
    public const byte AlgorithmAes256GcmHkdfSha256 = 1;
    private static readonly byte[] Magic = "TGBE"u8.ToArray();
    private static readonly byte[] HkdfInfo = Encoding.ASCII.GetBytes("TeleGuard.Backup v1 AES-256-GCM chunk key");

    /// <summary>Encrypts <paramref name="plaintext"/> to <paramref name="ciphertext"/> with the ring's primary key.</summary>
    public static Task EncryptAsync(Stream plaintext, Stream ciphertext, EncryptionKeyRing keys, CancellationToken cancellationToken,
        int chunkBytes = DefaultChunkBytes) =>
        EncryptAsync(plaintext, ciphertext, keys.PrimaryKey, RandomNumberGenerator.GetBytes(32), chunkBytes, cancellationToken);

    internal static async Task EncryptAsync(Stream plaintext, Stream ciphertext, byte[] masterKey, byte[] salt, int chunkBytes, CancellationToken cancellationToken)
    {
        if (chunkBytes is < MinChunkBytes or > MaxChunkBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(chunkBytes));
        }

        var header = new byte[HeaderBytes];
        Magic.CopyTo(header, 0);
        header[4] = Version;
        header[5] = AlgorithmAes256GcmHkdfSha256;
        Convert.FromHexString(EncryptionKeyRing.KeyIdOf(masterKey)).CopyTo(header, 8);
        salt.CopyTo(header, 16);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(48), (uint)chunkBytes);
        await ciphertext.WriteAsync(header, cancellationToken);

        using var aes = new AesGcm(DeriveKey(masterKey, salt), TagBytes);
        // Read one chunk ahead: a chunk is the last one only when nothing follows it.
        var current = new byte[chunkBytes];
        var next = new byte[chunkBytes];
        var sealedChunk = new byte[chunkBytes + TagBytes];
        var nonce = new byte[12];
        var currentLength = await ReadFullAsync(plaintext, current, cancellationToken);
        for (ulong counter = 0; ; counter++)
        {
            var nextLength = currentLength == chunkBytes ? await ReadFullAsync(plaintext, next, cancellationToken) : 0;
            var last = nextLength == 0;
            MakeNonce(nonce, counter, last);
            aes.Encrypt(nonce, current.AsSpan(0, currentLength), sealedChunk.AsSpan(0, currentLength),
                sealedChunk.AsSpan(currentLength, TagBytes), header);
            await ciphertext.WriteAsync(sealedChunk.AsMemory(0, currentLength + TagBytes), cancellationToken);
            if (last)
            {
                return;
            }

            (current, next) = (next, current);
            currentLength = nextLength;
        }
    }

    /// <summary>
    /// Decrypts, writing each chunk's plaintext only after its tag verified. Throws <see cref="EncryptedFileException"/>
    /// for anything wrong: a bad or tampered header, an unknown key id, a wrong key, a flipped bit, truncation,
    /// reordered, missing or extra chunks, trailing bytes. Callers that write a file must discard it on error.
    /// </summary>
    public static async Task<EncryptedFileHeader> DecryptAsync(Stream ciphertext, Stream plaintext, EncryptionKeyRing keys, CancellationToken cancellationToken)
    {
        var header = new byte[HeaderBytes];
        var headerLength = await ReadFullAsync(ciphertext, header, cancellationToken);
        if (headerLength == 0)
        {
            throw new EncryptedFileException("The file is empty.");
        }

        var info = ParseHeader(header.AsSpan(0, headerLength));
        if (!keys.TryGetKey(header.AsSpan(8, 8), out var masterKey))
        {
            throw new EncryptedFileException($"The file was encrypted with key {info.KeyId}, which is not among the configured keys ({string.Join(", ", keys.KeyIds)}).");
        }

        using var aes = new AesGcm(DeriveKey(masterKey, header.AsSpan(16, 32).ToArray()), TagBytes);
        var sealedBytes = info.ChunkBytes + TagBytes;
        var current = new byte[sealedBytes];
        var next = new byte[sealedBytes];
        var output = new byte[info.ChunkBytes];
        var nonce = new byte[12];
        var currentLength = await ReadFullAsync(ciphertext, current, cancellationToken);
        for (ulong counter = 0; ; counter++)
        {
            if (currentLength < TagBytes)
            {
                throw new EncryptedFileException(counter == 0 ? "The file has a header and no chunk." : $"The file is truncated in chunk {counter}.");
            }

            var nextLength = currentLength == sealedBytes ? await ReadFullAsync(ciphertext, next, cancellationToken) : 0;
            var last = nextLength == 0;
            MakeNonce(nonce, counter, last);
            var dataLength = currentLength - TagBytes;
            try
            {
                aes.Decrypt(nonce, current.AsSpan(0, dataLength), current.AsSpan(dataLength, TagBytes), output.AsSpan(0, dataLength), header);
            }
            catch (AuthenticationTagMismatchException)
            {
                throw new EncryptedFileException(last
                    ? $"Chunk {counter} failed authentication: the file is truncated, was altered, or the key is wrong."
                    : $"Chunk {counter} failed authentication: the file was altered, reordered, or the key is wrong.");
            }

            await plaintext.WriteAsync(output.AsMemory(0, dataLength), cancellationToken);
            if (last)
            {
                return info;
            }

            (current, next) = (next, current);
            currentLength = nextLength;
        }
    }

    /// <summary>Reads and checks the header without decrypting (no key needed): what the public index shows.</summary>
    public static EncryptedFileHeader ParseHeader(ReadOnlySpan<byte> header)
    {
        if (header.Length < HeaderBytes)
        {
            throw new EncryptedFileException("The file is shorter than the 52-byte header.");
        }

        if (!header[..4].SequenceEqual(Magic))
        {
            throw new EncryptedFileException("Not a TeleGuard encrypted file (bad magic).");
        }

        if (header[4] != Version || header[5] != AlgorithmAes256GcmHkdfSha256 || header[6] != 0 || header[7] != 0)
        {
            throw new EncryptedFileException($"Unsupported format version {header[4]} / algorithm {header[5]}.");
        }

        var chunkBytes = BinaryPrimitives.ReadUInt32BigEndian(header.Slice(48, 4));
        if (chunkBytes is < MinChunkBytes or > MaxChunkBytes)
        {
            throw new EncryptedFileException($"Invalid chunk size {chunkBytes} in the header.");
        }

        return new EncryptedFileHeader(Convert.ToHexStringLower(header.Slice(8, 8)), (int)chunkBytes);
    }

    internal static byte[] DeriveKey(byte[] masterKey, byte[] salt) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, masterKey, 32, salt, HkdfInfo);

    // 11-byte big-endian chunk counter, then 0x01 for the last chunk and 0x00 for the others.
    internal static void MakeNonce(Span<byte> nonce, ulong counter, bool last)
    {
        nonce[..3].Clear();
        BinaryPrimitives.WriteUInt64BigEndian(nonce.Slice(3, 8), counter);
        nonce[11] = last ? (byte)1 : (byte)0;
    }

    private static async Task<int> ReadFullAsync(Stream stream, byte[] buffer, CancellationToken cancellationToken)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }
}

public sealed record EncryptedFileHeader(string KeyId, int ChunkBytes);

public sealed class EncryptedFileException(string message) : Exception(message);

using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace TeleGuard.Backup.Crypto;

/// <summary>
/// The TeleGuard encrypted-file format (docs/encryption-format.md): a header (magic "TGBE", version, algorithm, key id,
/// random salt, chunk size and, from version 2 on, the snapshot id), then the plaintext in fixed-size chunks, each
/// sealed with AES-256-GCM under a key derived for this file by HKDF-SHA256(master key, salt) and a nonce made of the
/// chunk's counter and a last-chunk flag, with the whole header as associated data. The header thus binds the file to
/// its snapshot: a file renamed to another snapshot's name fails the check. Memory is two chunks whatever the size.
/// Encryption writes version 2; decryption also reads version 1 (no snapshot id).
/// </summary>
public static class StreamingEncryption
{
    /// <summary>The version 1 header, which is also the fixed start of a version 2 header.</summary>
    public const int FixedHeaderBytes = 52;
    public const int TagBytes = 16;
    public const int DefaultChunkBytes = 1024 * 1024;
    public const int MinChunkBytes = 16;
    public const int MaxChunkBytes = 64 * 1024 * 1024;
    public const int MaxSnapshotIdBytes = 64;
    public const byte Version1 = 1;
    public const byte Version2 = 2;
    public const byte AlgorithmAes256GcmHkdfSha256 = 1;
    private static readonly byte[] Magic = "TGBE"u8.ToArray();
    private static readonly byte[] HkdfInfo = Encoding.ASCII.GetBytes("TeleGuard.Backup v1 AES-256-GCM chunk key");
    private static readonly byte[] RepeatableSaltLabel = Encoding.ASCII.GetBytes("TeleGuard.Backup repeatable salt v1");

    /// <summary>Bytes of a version 2 header naming <paramref name="snapshotId"/>.</summary>
    public static int HeaderBytes(string snapshotId) => FixedHeaderBytes + 1 + snapshotId.Length;

    /// <summary>
    /// What a header may name as its snapshot: 1 to 64 characters among ASCII letters, digits, '-', '_' and '.', so that
    /// an id read from a file is safe to print (snapshot ids are UTC timestamps such as <c>20261126T040000Z</c>).
    /// </summary>
    public static bool IsValidSnapshotId(ReadOnlySpan<char> id)
    {
        if (id.Length is 0 or > MaxSnapshotIdBytes)
        {
            return false;
        }

        foreach (var c in id)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Encrypts <paramref name="plaintext"/> of snapshot <paramref name="snapshotId"/> to <paramref name="ciphertext"/> with the ring's primary key.</summary>
    public static Task EncryptAsync(Stream plaintext, Stream ciphertext, EncryptionKeyRing keys, string snapshotId, CancellationToken cancellationToken,
        int chunkBytes = DefaultChunkBytes) =>
        EncryptAsync(plaintext, ciphertext, keys.PrimaryKey, RandomNumberGenerator.GetBytes(32), snapshotId, chunkBytes, cancellationToken);

    /// <summary>
    /// Encrypts as <see cref="EncryptAsync(Stream, Stream, EncryptionKeyRing, string, CancellationToken, int)"/> does, except
    /// that the salt is derived (<see cref="RepeatableSalt"/>) from the key, the chunk size, the snapshot id and the
    /// plaintext's SHA-256 instead of drawn at random: the same plaintext gives the same file, byte for byte, so a retried
    /// upload finds the parts it already sent. Any other plaintext, chunk size or snapshot gets another salt, hence another
    /// chunk key, so a key and nonce pair still never seals two different chunks. The plaintext is read twice (hashed,
    /// then encrypted), so it must be seekable and must not change meanwhile (a file of the caller's own).
    /// </summary>
    public static async Task EncryptRepeatableAsync(Stream plaintext, Stream ciphertext, EncryptionKeyRing keys, string snapshotId,
        CancellationToken cancellationToken, int chunkBytes = DefaultChunkBytes)
    {
        if (!plaintext.CanSeek)
        {
            throw new ArgumentException("Repeatable encryption reads the plaintext twice: it must be seekable.", nameof(plaintext));
        }

        if (!IsValidSnapshotId(snapshotId))
        {
            throw new ArgumentException("A snapshot id is 1 to 64 ASCII letters, digits, '-', '_' or '.'.", nameof(snapshotId));
        }

        var start = plaintext.Position;
        var sha256 = await SHA256.HashDataAsync(plaintext, cancellationToken);
        plaintext.Position = start;
        await EncryptAsync(plaintext, ciphertext, keys.PrimaryKey, RepeatableSalt(keys.PrimaryKey, chunkBytes, snapshotId, sha256), snapshotId, chunkBytes,
            cancellationToken);
    }

    /// <summary>
    /// HMAC-SHA256(key = master key, message = "TeleGuard.Backup repeatable salt v1" || chunk size (4 bytes, big-endian)
    /// || snapshot id length (1 byte) || snapshot id || SHA-256(plaintext)).
    /// </summary>
    internal static byte[] RepeatableSalt(byte[] masterKey, int chunkBytes, string snapshotId, byte[] plaintextSha256)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, masterKey);
        hmac.AppendData(RepeatableSaltLabel);
        Span<byte> fields = stackalloc byte[5];
        BinaryPrimitives.WriteUInt32BigEndian(fields, (uint)chunkBytes);
        fields[4] = (byte)snapshotId.Length;
        hmac.AppendData(fields);
        hmac.AppendData(Encoding.ASCII.GetBytes(snapshotId));
        hmac.AppendData(plaintextSha256);
        return hmac.GetHashAndReset();
    }

    internal static async Task EncryptAsync(Stream plaintext, Stream ciphertext, byte[] masterKey, byte[] salt, string snapshotId, int chunkBytes,
        CancellationToken cancellationToken)
    {
        if (chunkBytes is < MinChunkBytes or > MaxChunkBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(chunkBytes));
        }

        if (!IsValidSnapshotId(snapshotId))
        {
            throw new ArgumentException("A snapshot id is 1 to 64 ASCII letters, digits, '-', '_' or '.'.", nameof(snapshotId));
        }

        var header = new byte[HeaderBytes(snapshotId)];
        Magic.CopyTo(header, 0);
        header[4] = Version2;
        header[5] = AlgorithmAes256GcmHkdfSha256;
        Convert.FromHexString(EncryptionKeyRing.KeyIdOf(masterKey)).CopyTo(header, 8);
        salt.CopyTo(header, 16);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(48), (uint)chunkBytes);
        header[FixedHeaderBytes] = (byte)snapshotId.Length;
        Encoding.ASCII.GetBytes(snapshotId, header.AsSpan(FixedHeaderBytes + 1));
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
    /// reordered, missing or extra chunks, trailing bytes, and a version 2 file of another snapshot than
    /// <paramref name="expectedSnapshotId"/> (checked once the first chunk authenticated the header, before any plaintext
    /// is written). Null accepts any snapshot: the returned header says which one the file is. A version 1 file names no
    /// snapshot (<see cref="EncryptedFileHeader.SnapshotId"/> is null): the caller must check the plaintext's own id.
    /// Callers that write a file must discard it on error.
    /// </summary>
    public static async Task<EncryptedFileHeader> DecryptAsync(Stream ciphertext, Stream plaintext, EncryptionKeyRing keys, string? expectedSnapshotId,
        CancellationToken cancellationToken)
    {
        var header = await ReadHeaderAsync(ciphertext, cancellationToken);
        var info = ParseHeader(header);
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

            if (counter == 0 && expectedSnapshotId is not null && info.SnapshotId is not null && info.SnapshotId != expectedSnapshotId)
            {
                throw new EncryptedFileException(
                    $"The file holds snapshot {info.SnapshotId}, not the requested snapshot {expectedSnapshotId}: it was swapped, rolled back or renamed.");
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

    /// <summary>
    /// Reads and checks the header at the start of <paramref name="file"/> (the whole file or at least its header)
    /// without decrypting: no key is needed, and nothing in it is authenticated yet.
    /// </summary>
    public static EncryptedFileHeader ParseHeader(ReadOnlySpan<byte> file)
    {
        if (file.Length < FixedHeaderBytes)
        {
            throw new EncryptedFileException($"The file is shorter than the {FixedHeaderBytes}-byte fixed header.");
        }

        if (!file[..4].SequenceEqual(Magic))
        {
            throw new EncryptedFileException("Not a TeleGuard encrypted file (bad magic).");
        }

        var version = file[4];
        if (version is not (Version1 or Version2) || file[5] != AlgorithmAes256GcmHkdfSha256 || file[6] != 0 || file[7] != 0)
        {
            throw new EncryptedFileException($"Unsupported format version {file[4]} / algorithm {file[5]}.");
        }

        var chunkBytes = BinaryPrimitives.ReadUInt32BigEndian(file.Slice(48, 4));
        if (chunkBytes is < MinChunkBytes or > MaxChunkBytes)
        {
            throw new EncryptedFileException($"Invalid chunk size {chunkBytes} in the header.");
        }

        var keyId = Convert.ToHexStringLower(file.Slice(8, 8));
        if (version == Version1)
        {
            return new EncryptedFileHeader(version, keyId, (int)chunkBytes, SnapshotId: null);
        }

        if (file.Length == FixedHeaderBytes)
        {
            throw new EncryptedFileException("The file ends inside the header (no snapshot id).");
        }

        var idLength = file[FixedHeaderBytes];
        if (idLength is 0 or > MaxSnapshotIdBytes)
        {
            throw new EncryptedFileException($"Invalid snapshot id length {idLength} in the header.");
        }

        if (file.Length < FixedHeaderBytes + 1 + idLength)
        {
            throw new EncryptedFileException("The file ends inside the header's snapshot id.");
        }

        var id = Encoding.Latin1.GetString(file.Slice(FixedHeaderBytes + 1, idLength)); // one char per byte, checked next
        if (!IsValidSnapshotId(id))
        {
            throw new EncryptedFileException("The header's snapshot id has characters other than ASCII letters, digits, '-', '_' and '.'.");
        }

        return new EncryptedFileHeader(version, keyId, (int)chunkBytes, id);
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

    // The header's exact bytes (they are the associated data): the fixed part, then for version 2 the id's length and the id.
    private static async Task<byte[]> ReadHeaderAsync(Stream ciphertext, CancellationToken cancellationToken)
    {
        var fixedPart = new byte[FixedHeaderBytes];
        var read = await ReadFullAsync(ciphertext, fixedPart, cancellationToken);
        if (read == 0)
        {
            throw new EncryptedFileException("The file is empty.");
        }

        if (read < FixedHeaderBytes || fixedPart[4] != Version2)
        {
            ParseHeader(fixedPart.AsSpan(0, read)); // rejects what is too short or of another version
            return fixedPart;
        }

        var idLength = new byte[1];
        if (await ReadFullAsync(ciphertext, idLength, cancellationToken) == 0)
        {
            throw new EncryptedFileException("The file ends inside the header (no snapshot id).");
        }

        if (idLength[0] is 0 or > MaxSnapshotIdBytes)
        {
            throw new EncryptedFileException($"Invalid snapshot id length {idLength[0]} in the header.");
        }

        var header = new byte[FixedHeaderBytes + 1 + idLength[0]];
        fixedPart.CopyTo(header, 0);
        header[FixedHeaderBytes] = idLength[0];
        read = await ReadFullAsync(ciphertext, header.AsMemory(FixedHeaderBytes + 1), cancellationToken);
        return header[..(FixedHeaderBytes + 1 + read)]; // ParseHeader rejects an id cut short
    }

    private static async Task<int> ReadFullAsync(Stream stream, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var read = await stream.ReadAsync(buffer[total..], cancellationToken);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }
}

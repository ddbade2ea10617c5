using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace TeleGuard.Backup.TestSupport;

/// <summary>
/// A writer of the old version 1 encrypted format, written from docs/encryption-format.md alone (the product writes only
/// version 2), so tests can show that files published before version 2 still decrypt and are still checked.
/// </summary>
public static class VersionOneEncryption
{
    public static byte[] Encrypt(byte[] masterKey, byte[] plaintext, byte[]? salt = null, int chunkBytes = 1024 * 1024)
    {
        salt ??= RandomNumberGenerator.GetBytes(32);
        var header = new byte[52];
        "TGBE"u8.CopyTo(header);
        header[4] = 1; // version
        header[5] = 1; // AES-256-GCM with an HKDF-SHA256 chunk key
        SHA256.HashData([.. Encoding.ASCII.GetBytes("TeleGuard.Backup key id v1"), .. masterKey]).AsSpan(0, 8).CopyTo(header.AsSpan(8));
        salt.CopyTo(header, 16);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(48), (uint)chunkBytes);
        var chunkKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, masterKey, 32, salt, Encoding.ASCII.GetBytes("TeleGuard.Backup v1 AES-256-GCM chunk key"));

        using var aes = new AesGcm(chunkKey, 16);
        using var output = new MemoryStream();
        output.Write(header);
        var chunks = Math.Max(1, (plaintext.Length + chunkBytes - 1) / chunkBytes);
        for (var i = 0; i < chunks; i++)
        {
            var chunk = plaintext.AsSpan(i * chunkBytes, Math.Min(chunkBytes, plaintext.Length - i * chunkBytes));
            var nonce = new byte[12];
            BinaryPrimitives.WriteUInt64BigEndian(nonce.AsSpan(3), (ulong)i);
            nonce[11] = i == chunks - 1 ? (byte)1 : (byte)0;
            var sealedChunk = new byte[chunk.Length + 16];
            aes.Encrypt(nonce, chunk, sealedChunk.AsSpan(0, chunk.Length), sealedChunk.AsSpan(chunk.Length), header);
            output.Write(sealedChunk);
        }

        return output.ToArray();
    }
}

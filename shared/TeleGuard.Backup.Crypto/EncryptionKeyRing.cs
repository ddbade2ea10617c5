using System.Security.Cryptography;
using System.Text;

namespace TeleGuard.Backup.Crypto;

/// <summary>
/// The master keys: the primary one encrypts; it and every previous key decrypt. A file names its key by an 8-byte
/// key id, the first 8 bytes of SHA-256("TeleGuard.Backup key id v1" || key), so a reader picks the right key and an
/// unknown one is reported as such. The id reveals nothing usable about the key.
/// </summary>
public sealed class EncryptionKeyRing
{
    public const int KeyBytes = 32;
    private static readonly byte[] KeyIdPrefix = Encoding.ASCII.GetBytes("TeleGuard.Backup key id v1");
    private readonly Dictionary<string, byte[]> _keys = new(StringComparer.Ordinal);

    public EncryptionKeyRing(byte[] primary, IEnumerable<byte[]>? previous = null)
    {
        PrimaryKeyId = Add(primary);
        foreach (var key in previous ?? [])
        {
            Add(key);
        }
    }

    public string PrimaryKeyId { get; }

    public IReadOnlyCollection<string> KeyIds => _keys.Keys;

    internal byte[] PrimaryKey => _keys[PrimaryKeyId];

    /// <summary>A ring holding the keys of both (to decrypt files of either); <paramref name="first"/>'s primary key encrypts.</summary>
    public static EncryptionKeyRing Union(EncryptionKeyRing first, EncryptionKeyRing second) =>
        new(first.PrimaryKey, first._keys.Values.Concat(second._keys.Values));

    internal bool TryGetKey(ReadOnlySpan<byte> keyId, out byte[] key) => _keys.TryGetValue(Convert.ToHexStringLower(keyId), out key!);

    /// <summary>Parses base64 of exactly 32 bytes; null when it is not (the caller names the variable).</summary>
    public static byte[]? ParseKey(string? base64)
    {
        if (string.IsNullOrWhiteSpace(base64))
        {
            return null;
        }

        var buffer = new byte[KeyBytes + 3];
        return Convert.TryFromBase64String(base64.Trim(), buffer, out var written) && written == KeyBytes ? buffer[..KeyBytes] : null;
    }

    public static byte[] GenerateKey() => RandomNumberGenerator.GetBytes(KeyBytes);

    /// <summary>Lower-case hex of the key's 8-byte id.</summary>
    public static string KeyIdOf(ReadOnlySpan<byte> key)
    {
        Span<byte> hash = stackalloc byte[32];
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(KeyIdPrefix);
        sha.AppendData(key);
        sha.GetHashAndReset(hash);
        return Convert.ToHexStringLower(hash[..8]);
    }

    private string Add(byte[] key)
    {
        if (key.Length != KeyBytes)
        {
            throw new ArgumentException($"An encryption key is {KeyBytes} bytes.", nameof(key));
        }

        var id = KeyIdOf(key);
        _keys.TryAdd(id, key);
        return id;
    }

    internal void ReplaceForTest(string keyId, byte[] key) => _keys[keyId] = key;
}

using System.Security.Cryptography;
using System.Text;

namespace TeleGuard.Backup.Crypto.Tests;

public sealed class StreamingEncryptionTests
{
    private const int Chunk = 4096;
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly EncryptionKeyRing _keys = new(EncryptionKeyRing.GenerateKey());

    private async Task<byte[]> EncryptAsync(byte[] plaintext, EncryptionKeyRing? keys = null, int chunk = Chunk)
    {
        using var output = new MemoryStream();
        await StreamingEncryption.EncryptAsync(new MemoryStream(plaintext), output, keys ?? _keys, None, chunk);
        return output.ToArray();
    }

    private async Task<byte[]> DecryptAsync(byte[] ciphertext, EncryptionKeyRing? keys = null)
    {
        using var output = new MemoryStream();
        await StreamingEncryption.DecryptAsync(new MemoryStream(ciphertext), output, keys ?? _keys, None);
        return output.ToArray();
    }

    private async Task AssertRejectedAsync(byte[] ciphertext, string? expected = null, EncryptionKeyRing? keys = null)
    {
        var error = await Assert.ThrowsAsync<EncryptedFileException>(() => DecryptAsync(ciphertext, keys));
        if (expected is not null)
        {
            Assert.Contains(expected, error.Message);
        }
    }

    [Fact]
    public async Task The_documented_test_vector_encrypts_and_decrypts_exactly()
    {
        // docs/encryption-format.md, "Test vector". Checked independently with Python's cryptography package.
        var key = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        var salt = Enumerable.Range(0x20, 32).Select(i => (byte)i).ToArray();
        var plaintext = Encoding.ASCII.GetBytes("TeleGuard.Backup test vector: three chunks.");
        const string expected = "5447424501010000424b6458247fd65a202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f00000010"
            + "c06261c0ba6053ed07e98ec7fcb3b2b72f2b7770f0e2fd8d32e57e76944f7b79"
            + "af747e2249334fed19a65dc1b1961734cbc031769a969ea29ad7473acf55b835"
            + "e0ad7902d6200acf1e2f4f8ca349308654d937951c7e6270877d06";
        using var output = new MemoryStream();
        await StreamingEncryption.EncryptAsync(new MemoryStream(plaintext), output, key, salt, 16, None);
        Assert.Equal(expected, Convert.ToHexStringLower(output.ToArray()));
        Assert.Equal("424b6458247fd65a", EncryptionKeyRing.KeyIdOf(key));
        Assert.Equal(plaintext, await DecryptAsync(Convert.FromHexString(expected), new EncryptionKeyRing(key)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(Chunk - 1)]
    [InlineData(Chunk)]
    [InlineData(Chunk + 1)]
    [InlineData(Chunk * 37 + 123)]
    [InlineData(Chunk * 16)]
    public async Task Round_trips_every_size(int size)
    {
        var plaintext = RandomNumberGenerator.GetBytes(size);
        var ciphertext = await EncryptAsync(plaintext);
        var chunks = Math.Max(1, (size + Chunk - 1) / Chunk);
        Assert.Equal(StreamingEncryption.HeaderBytes + size + chunks * StreamingEncryption.TagBytes, ciphertext.Length);
        Assert.Equal(plaintext, await DecryptAsync(ciphertext));
    }

    [Fact]
    public async Task Two_encryptions_differ_and_no_key_and_nonce_pair_repeats_over_ten_thousand_files()
    {
        var plaintext = RandomNumberGenerator.GetBytes(3 * 16);
        Assert.NotEqual(await EncryptAsync(plaintext), await EncryptAsync(plaintext));

        // Each file's chunk key comes from its own random salt; nonces are counters within a file.
        var pairs = new HashSet<string>();
        var nonce = new byte[12];
        for (var file = 0; file < 10_000; file++)
        {
            var ciphertext = await EncryptAsync(plaintext, chunk: 16);
            var key = StreamingEncryption.DeriveKey(_keys.PrimaryKey, ciphertext[16..48]);
            for (ulong chunk = 0; chunk < 3; chunk++)
            {
                StreamingEncryption.MakeNonce(nonce, chunk, chunk == 2);
                Assert.True(pairs.Add(Convert.ToHexStringLower(key) + Convert.ToHexStringLower(nonce)));
            }
        }

        Assert.Equal(30_000, pairs.Count);
    }

    [Fact]
    public async Task A_flipped_bit_anywhere_is_rejected_at_a_thousand_random_offsets()
    {
        var ciphertext = await EncryptAsync(RandomNumberGenerator.GetBytes(Chunk * 5 + 77));
        var random = new Random(7);
        for (var i = 0; i < 1000; i++)
        {
            var tampered = (byte[])ciphertext.Clone();
            // The first 60 offsets sweep the header; the rest land anywhere.
            var offset = i < 60 ? i % StreamingEncryption.HeaderBytes : random.Next(tampered.Length);
            tampered[offset] ^= (byte)(1 << random.Next(8));
            await AssertRejectedAsync(tampered);
        }
    }

    [Fact]
    public async Task Truncation_dropped_or_swapped_chunks_and_trailing_bytes_are_rejected()
    {
        var ciphertext = await EncryptAsync(RandomNumberGenerator.GetBytes(Chunk * 4 + 100));
        var sealedChunk = Chunk + StreamingEncryption.TagBytes;
        var header = StreamingEncryption.HeaderBytes;

        await AssertRejectedAsync(ciphertext[..(header + 2 * sealedChunk)], "truncated"); // at a chunk boundary
        await AssertRejectedAsync(ciphertext[..(header + 2 * sealedChunk + 1000)]); // mid-chunk
        await AssertRejectedAsync(ciphertext[..(header + 4 * sealedChunk)]); // the short last chunk dropped
        await AssertRejectedAsync(ciphertext[..header], "no chunk");

        var swapped = (byte[])ciphertext.Clone();
        ciphertext.AsSpan(header, sealedChunk).CopyTo(swapped.AsSpan(header + sealedChunk));
        ciphertext.AsSpan(header + sealedChunk, sealedChunk).CopyTo(swapped.AsSpan(header));
        await AssertRejectedAsync(swapped, "Chunk 0");

        await AssertRejectedAsync([.. ciphertext, 0]);
        await AssertRejectedAsync([.. ciphertext, .. ciphertext[header..(header + sealedChunk)]]);

        // A plaintext of exactly four chunks: dropping the (full) last chunk is caught too.
        var exact = await EncryptAsync(RandomNumberGenerator.GetBytes(Chunk * 4));
        await AssertRejectedAsync(exact[..(header + 3 * sealedChunk)], "truncated");
    }

    [Fact]
    public async Task An_empty_file_an_unknown_key_a_wrong_key_and_a_tampered_header_are_rejected()
    {
        var plaintext = RandomNumberGenerator.GetBytes(10_000);
        var ciphertext = await EncryptAsync(plaintext);
        await AssertRejectedAsync([], "empty");
        await AssertRejectedAsync(ciphertext, "not among the configured keys", new EncryptionKeyRing(EncryptionKeyRing.GenerateKey()));

        var wrong = new EncryptionKeyRing(EncryptionKeyRing.GenerateKey());
        wrong.ReplaceForTest(_keys.PrimaryKeyId, EncryptionKeyRing.GenerateKey()); // same id, other key
        await AssertRejectedAsync(ciphertext, "failed authentication", wrong);

        var otherChunkSize = (byte[])ciphertext.Clone();
        otherChunkSize[50] ^= 0x01; // chunk size field
        await AssertRejectedAsync(otherChunkSize);
        var otherVersion = (byte[])ciphertext.Clone();
        otherVersion[4] = 2;
        await AssertRejectedAsync(otherVersion, "Unsupported");
    }

    [Fact]
    public async Task Previous_keys_still_decrypt_after_rotation()
    {
        var old = EncryptionKeyRing.GenerateKey();
        var plaintext = RandomNumberGenerator.GetBytes(5000);
        var before = await EncryptAsync(plaintext, new EncryptionKeyRing(old));
        var rotated = new EncryptionKeyRing(EncryptionKeyRing.GenerateKey(), [old]);
        Assert.Equal(plaintext, await DecryptAsync(before, rotated));
        var after = await EncryptAsync(plaintext, rotated);
        Assert.Equal(rotated.PrimaryKeyId, StreamingEncryption.ParseHeader(after).KeyId);
        Assert.NotEqual(EncryptionKeyRing.KeyIdOf(old), rotated.PrimaryKeyId);
    }

    [Theory]
    [InlineData("", false)]
    [InlineData("not base64!", false)]
    [InlineData("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==", false)] // 31 bytes
    [InlineData("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g", false)] // 33 bytes
    [InlineData("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", true)] // 32 bytes
    public void Keys_are_base64_of_exactly_32_bytes(string text, bool valid) =>
        Assert.Equal(valid, EncryptionKeyRing.ParseKey(text) is not null);
}

public sealed class LargeStreamTests
{
    [Fact]
    public async Task One_gibibyte_round_trips_through_a_pipe_without_being_held_in_memory()
    {
        const long size = 1L << 30;
        var keys = new EncryptionKeyRing(EncryptionKeyRing.GenerateKey());
        var block = RandomNumberGenerator.GetBytes(1 << 20);
        using var inputHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var outputHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var pipe = new System.IO.Pipelines.Pipe();

        var encrypt = Task.Run(async () =>
        {
            await using var ciphertext = pipe.Writer.AsStream();
            await StreamingEncryption.EncryptAsync(new GeneratedStream(size, block, inputHash), ciphertext, keys, CancellationToken.None);
        });
        var decrypt = Task.Run(async () =>
        {
            await using var ciphertext = pipe.Reader.AsStream();
            await StreamingEncryption.DecryptAsync(ciphertext, new HashingSink(outputHash), keys, CancellationToken.None);
        });
        await Task.WhenAll(encrypt, decrypt);

        Assert.Equal(inputHash.GetHashAndReset(), outputHash.GetHashAndReset());
    }

    private sealed class GeneratedStream(long length, byte[] block, IncrementalHash hash) : TeleGuard.Backup.Snapshots.ReadOnlyStream
    {
        private long _position;

        public override int Read(byte[] buffer, int offset, int count)
        {
            var take = (int)Math.Min(count, Math.Min(length - _position, block.Length - _position % block.Length));
            block.AsSpan((int)(_position % block.Length), take).CopyTo(buffer.AsSpan(offset));
            if (take >= 8)
            {
                BitConverter.TryWriteBytes(buffer.AsSpan(offset, 8), _position); // no two blocks alike
            }

            hash.AppendData(buffer, offset, take);
            _position += take;
            return take;
        }

        public override long Length => length;
    }

    private sealed class HashingSink(IncrementalHash hash) : TeleGuard.Backup.Snapshots.WriteOnlyStream
    {
        public override void Write(byte[] buffer, int offset, int count) => hash.AppendData(buffer, offset, count);
    }
}

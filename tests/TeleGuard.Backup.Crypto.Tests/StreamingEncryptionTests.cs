using System.Security.Cryptography;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Crypto.Tests;

public sealed class StreamingEncryptionTests
{
    private const int Chunk = 4096;
    private const string Id = "20261126T040000Z";
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly EncryptionKeyRing _keys = new(EncryptionKeyRing.GenerateKey());

    private async Task<byte[]> EncryptAsync(byte[] plaintext, EncryptionKeyRing? keys = null, int chunk = Chunk, string snapshotId = Id)
    {
        using var output = new MemoryStream();
        await StreamingEncryption.EncryptAsync(new MemoryStream(plaintext), output, keys ?? _keys, snapshotId, None, chunk);
        return output.ToArray();
    }

    private async Task<byte[]> DecryptAsync(byte[] ciphertext, EncryptionKeyRing? keys = null, string? expected = Id)
    {
        using var output = new MemoryStream();
        await StreamingEncryption.DecryptAsync(new MemoryStream(ciphertext), output, keys ?? _keys, expected, None);
        return output.ToArray();
    }

    private async Task AssertRejectedAsync(byte[] ciphertext, string? expectedMessage = null, EncryptionKeyRing? keys = null, string? expectedId = Id)
    {
        using var output = new MemoryStream();
        var error = await Assert.ThrowsAsync<EncryptedFileException>(() =>
            StreamingEncryption.DecryptAsync(new MemoryStream(ciphertext), output, keys ?? _keys, expectedId, None));
        if (expectedMessage is not null)
        {
            Assert.Contains(expectedMessage, error.Message);
        }
    }

    [Fact]
    public async Task The_version_2_test_vector_in_the_format_document_is_what_the_code_writes_and_reads()
    {
        var vector = FormatDocument.Vector("Version 2");
        Assert.Equal(vector.Value("key id"), EncryptionKeyRing.KeyIdOf(vector.Key));
        Assert.Equal(vector.Value("chunk key"), Convert.ToHexStringLower(StreamingEncryption.DeriveKey(vector.Key, vector.Salt)));
        var snapshotId = vector.SnapshotId;

        using var output = new MemoryStream();
        await StreamingEncryption.EncryptAsync(new MemoryStream(vector.Plaintext), output, vector.Key, vector.Salt, snapshotId, vector.ChunkBytes, None);
        Assert.Equal(vector.CiphertextHex, Convert.ToHexStringLower(output.ToArray()));

        using var plaintext = new MemoryStream();
        var header = await StreamingEncryption.DecryptAsync(new MemoryStream(Convert.FromHexString(vector.CiphertextHex)), plaintext,
            new EncryptionKeyRing(vector.Key), snapshotId, None);
        Assert.Equal(vector.Plaintext, plaintext.ToArray());
        Assert.Equal(new EncryptedFileHeader(2, vector.Value("key id"), vector.ChunkBytes, snapshotId), header);
    }

    [Fact]
    public async Task The_version_1_test_vector_in_the_format_document_still_decrypts_and_is_still_checked()
    {
        var vector = FormatDocument.Vector("Version 1");
        var ciphertext = Convert.FromHexString(vector.CiphertextHex);
        // The test's own version 1 writer follows the document; it reproduces the vector, so its files below are real v1 files.
        Assert.Equal(vector.CiphertextHex, Convert.ToHexStringLower(VersionOneEncryption.Encrypt(vector.Key, vector.Plaintext, vector.Salt, vector.ChunkBytes)));

        var keys = new EncryptionKeyRing(vector.Key);
        using var plaintext = new MemoryStream();
        // A v1 file names no snapshot: it decrypts whatever is asked for, and says it named none (the caller checks the manifest).
        var header = await StreamingEncryption.DecryptAsync(new MemoryStream(ciphertext), plaintext, keys, Id, None);
        Assert.Equal(vector.Plaintext, plaintext.ToArray());
        Assert.Equal(new EncryptedFileHeader(1, vector.Value("key id"), vector.ChunkBytes, null), header);

        for (var offset = 0; offset < ciphertext.Length; offset++)
        {
            var tampered = (byte[])ciphertext.Clone();
            tampered[offset] ^= 0x04;
            await AssertRejectedAsync(tampered, keys: keys);
        }

        await AssertRejectedAsync(ciphertext[..^27], "truncated", keys); // the last chunk dropped

        var large = RandomNumberGenerator.GetBytes(Chunk * 3 + 5);
        Assert.Equal(large, await DecryptAsync(VersionOneEncryption.Encrypt(_keys.PrimaryKey, large, chunkBytes: Chunk)));
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
        Assert.Equal(StreamingEncryption.HeaderBytes(Id) + size + chunks * StreamingEncryption.TagBytes, ciphertext.Length);
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
    public void The_repeatable_salt_test_vector_in_the_format_document_is_what_the_code_derives()
    {
        var vector = FormatDocument.Vector("Repeatable salt");
        var salt = StreamingEncryption.RepeatableSalt(vector.Key, vector.ChunkBytes, vector.SnapshotId, SHA256.HashData(vector.Plaintext));
        Assert.Equal(vector.CiphertextHex, Convert.ToHexStringLower(salt));
    }

    /// <summary>
    /// What lets a retried Telegram upload reuse the parts it sent: the same plaintext gives the same bytes; and what keeps
    /// that safe: a different plaintext, chunk size, snapshot or key gives a different salt (so a different chunk key).
    /// </summary>
    [Fact]
    public async Task Repeatable_encryption_writes_the_same_file_for_the_same_plaintext_and_another_salt_for_anything_else()
    {
        async Task<byte[]> EncryptRepeatableAsync(byte[] plaintext, EncryptionKeyRing? keys = null, int chunk = Chunk, string snapshotId = Id)
        {
            using var output = new MemoryStream();
            await StreamingEncryption.EncryptRepeatableAsync(new MemoryStream(plaintext), output, keys ?? _keys, snapshotId, None, chunk);
            return output.ToArray();
        }

        var plaintext = RandomNumberGenerator.GetBytes(Chunk * 3 + 9);
        var first = await EncryptRepeatableAsync(plaintext);
        Assert.Equal(first, await EncryptRepeatableAsync(plaintext));
        Assert.Equal(plaintext, await DecryptAsync(first));

        var changed = (byte[])plaintext.Clone();
        changed[^1] ^= 0x01;
        var other = new EncryptionKeyRing(EncryptionKeyRing.GenerateKey());
        var salts = new[]
        {
            first,
            await EncryptRepeatableAsync(changed),
            await EncryptRepeatableAsync(plaintext, chunk: Chunk * 2),
            await EncryptRepeatableAsync(plaintext, snapshotId: "20261126T050000Z"),
            await EncryptRepeatableAsync(plaintext, keys: other),
        }.Select(file => Convert.ToHexStringLower(file.AsSpan(16, 32)));
        Assert.Equal(5, salts.Distinct().Count());
    }

    [Fact]
    public async Task A_flipped_bit_anywhere_is_rejected_at_a_thousand_random_offsets()
    {
        var ciphertext = await EncryptAsync(RandomNumberGenerator.GetBytes(Chunk * 5 + 77));
        var random = new Random(7);
        for (var i = 0; i < 1000; i++)
        {
            var tampered = (byte[])ciphertext.Clone();
            // The first offsets sweep the header (snapshot id included) twice; the rest land anywhere.
            var headerBytes = StreamingEncryption.HeaderBytes(Id);
            var offset = i < 2 * headerBytes ? i % headerBytes : random.Next(tampered.Length);
            tampered[offset] ^= (byte)(1 << random.Next(8));
            await AssertRejectedAsync(tampered);
        }
    }

    [Fact]
    public async Task Truncation_dropped_or_swapped_chunks_and_trailing_bytes_are_rejected()
    {
        var ciphertext = await EncryptAsync(RandomNumberGenerator.GetBytes(Chunk * 4 + 100));
        var sealedChunk = Chunk + StreamingEncryption.TagBytes;
        var header = StreamingEncryption.HeaderBytes(Id);

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
        otherVersion[4] = 3;
        await AssertRejectedAsync(otherVersion, "Unsupported");
        var downgraded = (byte[])ciphertext.Clone();
        downgraded[4] = 1; // read as a version 1 file, whose header is 52 bytes: every tag fails
        await AssertRejectedAsync(downgraded, "failed authentication");
        await AssertRejectedAsync(ciphertext[..StreamingEncryption.FixedHeaderBytes], "ends inside the header");
        await AssertRejectedAsync(ciphertext[..(StreamingEncryption.FixedHeaderBytes + 5)], "ends inside the header");
    }

    [Fact]
    public async Task A_file_of_one_snapshot_offered_as_another_is_refused_naming_both_before_any_plaintext_is_written()
    {
        var plaintext = RandomNumberGenerator.GetBytes(Chunk * 3);
        var ciphertext = await EncryptAsync(plaintext, snapshotId: "20261126T010000Z");

        using var output = new MemoryStream();
        var error = await Assert.ThrowsAsync<EncryptedFileException>(() =>
            StreamingEncryption.DecryptAsync(new MemoryStream(ciphertext), output, _keys, "20261126T020000Z", None));
        Assert.Equal("The file holds snapshot 20261126T010000Z, not the requested snapshot 20261126T020000Z: it was swapped, rolled back or renamed.",
            error.Message);
        Assert.Equal(0, output.Length);

        Assert.Equal(plaintext, await DecryptAsync(ciphertext, expected: "20261126T010000Z"));
        // Without an expected id (the decrypt command) any snapshot decrypts, and the header says which one it is.
        using var any = new MemoryStream();
        var header = await StreamingEncryption.DecryptAsync(new MemoryStream(ciphertext), any, _keys, null, None);
        Assert.Equal(("20261126T010000Z", 2), (header.SnapshotId, header.Version));
        Assert.Equal(plaintext, any.ToArray());
    }

    [Fact]
    public async Task A_snapshot_id_rewritten_in_the_header_fails_authentication_and_a_malformed_one_is_refused()
    {
        var ciphertext = await EncryptAsync(RandomNumberGenerator.GetBytes(100), snapshotId: "20261126T010000Z");
        var idStart = StreamingEncryption.FixedHeaderBytes + 1;
        Assert.Equal("20261126T010000Z"u8.ToArray(), ciphertext[idStart..(idStart + 16)]);

        // "…T010000Z" becomes "…T000000Z": a valid id, so only the tag can tell, whichever id is asked for.
        var renamed = (byte[])ciphertext.Clone();
        renamed[idStart + 10] ^= 0x01;
        Assert.Equal("20261126T000000Z", StreamingEncryption.ParseHeader(renamed).SnapshotId);
        await AssertRejectedAsync(renamed, "Chunk 0 failed authentication", expectedId: "20261126T000000Z");
        await AssertRejectedAsync(renamed, "Chunk 0 failed authentication", expectedId: null);

        var badCharacter = (byte[])ciphertext.Clone();
        badCharacter[idStart + 3] = (byte)'/';
        await AssertRejectedAsync(badCharacter, "snapshot id has characters", expectedId: null);
        foreach (var length in new byte[] { 0, 65, 255 })
        {
            var badLength = (byte[])ciphertext.Clone();
            badLength[StreamingEncryption.FixedHeaderBytes] = length;
            await AssertRejectedAsync(badLength, $"Invalid snapshot id length {length}", expectedId: null);
        }

        var shorter = (byte[])ciphertext.Clone();
        shorter[StreamingEncryption.FixedHeaderBytes] = 15; // the id's last byte is read as the first of chunk 0
        await AssertRejectedAsync(shorter, "failed authentication", expectedId: null);
    }

    [Theory]
    [InlineData("")]
    [InlineData("../20261126T010000Z")]
    [InlineData("20261126T010000Z\n")]
    [InlineData("snapshot id")]
    [InlineData("20261126T01000\u00e9")]
    [InlineData("12345678901234567890123456789012345678901234567890123456789012345")]
    public async Task Encryption_refuses_a_snapshot_id_outside_the_allowed_characters_and_length(string snapshotId)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => EncryptAsync([1, 2, 3], snapshotId: snapshotId));
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

[Collection(nameof(MemoryMeasured))]
public sealed class LargeStreamTests
{
    // Two chunks of 1 MiB, the pipe's buffer and the test's own block, with ample room; a gibibyte held anywhere exceeds it.
    private const long LiveBytesBound = 64L * 1024 * 1024;

    [Fact]
    public async Task One_gibibyte_round_trips_through_a_pipe_without_being_held_in_memory()
    {
        const long size = 1L << 30;
        var keys = new EncryptionKeyRing(EncryptionKeyRing.GenerateKey());
        var block = RandomNumberGenerator.GetBytes(1 << 20);
        using var inputHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var outputHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var pipe = new System.IO.Pipelines.Pipe();

        // What stays reachable while the gibibyte goes through, sampled after full collections (garbage does not count).
        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        var peak = baseline;
        using var stopSampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stopSampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, GC.GetTotalMemory(forceFullCollection: true));
                await Task.Delay(50);
            }
        });

        var encrypt = Task.Run(async () =>
        {
            await using var ciphertext = pipe.Writer.AsStream();
            await StreamingEncryption.EncryptAsync(new GeneratedStream(size, block, inputHash), ciphertext, keys, "20261126T040000Z", CancellationToken.None);
        });
        var decrypt = Task.Run(async () =>
        {
            await using var ciphertext = pipe.Reader.AsStream();
            await StreamingEncryption.DecryptAsync(ciphertext, new HashingSink(outputHash), keys, "20261126T040000Z", CancellationToken.None);
        });
        await Task.WhenAll(encrypt, decrypt);
        await stopSampling.CancelAsync();
        await sampler;

        Assert.Equal(inputHash.GetHashAndReset(), outputHash.GetHashAndReset());
        Assert.True(peak - baseline < LiveBytesBound, $"{(peak - baseline) / (1024 * 1024)} MiB stayed reachable during the round trip");
    }

    private sealed class GeneratedStream(long length, byte[] block, IncrementalHash hash) : TeleGuard.Backup.SnapshotFormat.ReadOnlyStream
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

    private sealed class HashingSink(IncrementalHash hash) : TeleGuard.Backup.SnapshotFormat.WriteOnlyStream
    {
        public override void Write(byte[] buffer, int offset, int count) => hash.AppendData(buffer, offset, count);
    }
}

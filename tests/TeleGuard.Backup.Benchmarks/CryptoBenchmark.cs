using System.Diagnostics;
using System.Security.Cryptography;
using TeleGuard.Backup.Crypto;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Benchmarks;

/// <summary>
/// The encryption targets: a 1 GiB round trip through the streaming format in constant memory, and encryption speed of at
/// least half of OpenSSL's AES-256-GCM on this machine (measured in the same run).
/// </summary>
public static class CryptoBenchmark
{
    private const string SnapshotId = "20261126T040000Z";

    public static async Task<int> RunAsync(string[] args)
    {
        var megabytes = args.Length >= 2 && args[0] == "--mb" ? long.Parse(args[1]) : 1024;
        var size = megabytes * 1024 * 1024;
        var keys = new EncryptionKeyRing(EncryptionKeyRing.GenerateKey());
        var file = Path.Combine(Path.GetTempPath(), $"bench-crypto-{Guid.NewGuid():N}.tgb");
        try
        {
            var source = new GeneratedStream(size);
            var stopwatch = Stopwatch.StartNew();
            await using (var output = new FileStream(file, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                await StreamingEncryption.EncryptAsync(source, output, keys, SnapshotId, CancellationToken.None);
            }

            var encryptSeconds = stopwatch.Elapsed.TotalSeconds;
            var inputHash = source.GetSha256();

            stopwatch.Restart();
            string outputHash;
            await using (var input = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20))
            using (var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            {
                await StreamingEncryption.DecryptAsync(input, new HashSink(sha), keys, SnapshotId, CancellationToken.None);
                outputHash = Convert.ToHexStringLower(sha.GetHashAndReset());
            }

            var decryptSeconds = stopwatch.Elapsed.TotalSeconds;
            var process = Process.GetCurrentProcess();
            process.Refresh();
            Console.WriteLine($"round trip of {megabytes} MiB: {(inputHash == outputHash ? "plaintext identical (SHA-256)" : "MISMATCH")}, ciphertext {new FileInfo(file).Length:N0} bytes");
            Console.WriteLine($"encrypt (generate + hash input + AES-256-GCM + write file): {megabytes / encryptSeconds:F0} MB/s");
            Console.WriteLine($"decrypt (read file + AES-256-GCM + hash output): {megabytes / decryptSeconds:F0} MB/s");
            Console.WriteLine($"peak working set of the process: {process.PeakWorkingSet64 / 1048576.0:F0} MiB");
            BenchmarkResult.Report("crypto.roundtrip_peak_mib", BenchmarkResult.PeakResidentMiB());
            BenchmarkResult.Report("crypto.file_encrypt_mbps", megabytes / encryptSeconds);
            BenchmarkResult.Report("crypto.file_decrypt_mbps", megabytes / decryptSeconds);

            // The format's own cost: the same stream code with no hashing, generation cost subtracted, no file.
            var generateOnly = Stopwatch.StartNew();
            await new GeneratedStream(size, hash: false).CopyToAsync(Stream.Null, 1 << 20);
            var generateSeconds = generateOnly.Elapsed.TotalSeconds;
            stopwatch.Restart();
            await StreamingEncryption.EncryptAsync(new GeneratedStream(size, hash: false), Stream.Null, keys, SnapshotId, CancellationToken.None);
            var streamEncrypt = megabytes / (stopwatch.Elapsed.TotalSeconds - generateSeconds);
            stopwatch.Restart();
            await using (var input = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20))
            {
                await StreamingEncryption.DecryptAsync(input, Stream.Null, keys, SnapshotId, CancellationToken.None);
            }

            Console.WriteLine($"streaming format alone (no hashing, no disk write; input generation subtracted): encrypt {streamEncrypt:F0} MB/s, "
                              + $"decrypt {megabytes / stopwatch.Elapsed.TotalSeconds:F0} MB/s (ciphertext read from the page cache)");
            BenchmarkResult.Report("crypto.encrypt_mbps", streamEncrypt);
            BenchmarkResult.Report("crypto.decrypt_mbps", megabytes / stopwatch.Elapsed.TotalSeconds);
            var (pure, pureDecrypt) = PureAesGcm(256);
            Console.WriteLine($".NET AesGcm alone, 1 MiB chunks in memory: encrypt {pure:F0} MB/s, decrypt {pureDecrypt:F0} MB/s");
            Console.WriteLine($"openssl speed -evp aes-256-gcm (16 KiB blocks, same run): {OpenSslSpeed()}");
            return inputHash == outputHash ? 0 : 1;
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static (double Encrypt, double Decrypt) PureAesGcm(int megabytes)
    {
        using var aes = new AesGcm(RandomNumberGenerator.GetBytes(32), 16);
        var plain = RandomNumberGenerator.GetBytes(1 << 20);
        var cipher = new byte[plain.Length];
        var tag = new byte[16];
        var nonce = new byte[12];
        var stopwatch = Stopwatch.StartNew();
        for (var i = 0; i < megabytes; i++)
        {
            nonce[0] = (byte)i;
            nonce[1] = (byte)(i >> 8);
            aes.Encrypt(nonce, plain, cipher, tag);
        }

        var encrypt = megabytes / stopwatch.Elapsed.TotalSeconds;
        stopwatch.Restart(); // the last encryption left a valid (cipher, tag) pair to decrypt
        for (var i = 0; i < megabytes; i++)
        {
            aes.Decrypt(nonce, cipher, tag, plain);
        }

        return (encrypt, megabytes / stopwatch.Elapsed.TotalSeconds);
    }

    private static string OpenSslSpeed()
    {
        try
        {
            var start = new ProcessStartInfo("openssl", "speed -evp aes-256-gcm -seconds 3 -bytes 16384")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            var line = output.Split('\n').LastOrDefault(l => l.StartsWith("AES-256-GCM", StringComparison.OrdinalIgnoreCase));
            if (line is null)
            {
                return "no result";
            }

            // "AES-256-GCM  1234567.89k": thousands of bytes per second.
            var kilobytes = double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Last().TrimEnd('k'), System.Globalization.CultureInfo.InvariantCulture);
            BenchmarkResult.Report("crypto.openssl_mbps", kilobytes * 1000 / 1048576);
            return $"{kilobytes * 1000 / 1048576:F0} MB/s ({line.Trim()})";
        }
        catch (Exception e)
        {
            return $"openssl not available ({e.GetType().Name})";
        }
    }

    /// <summary>Pseudo-random bytes of a given length, produced on the fly (not held in memory) and hashed as read.</summary>
    private sealed class GeneratedStream(long length, bool hash = true) : ReadOnlyStream
    {
        private readonly byte[] _block = RandomNumberGenerator.GetBytes(1 << 20);
        private readonly IncrementalHash _sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private long _position;

        public string GetSha256() => Convert.ToHexStringLower(_sha.GetHashAndReset());

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var take = (int)Math.Min(buffer.Length, length - _position);
            for (var done = 0; done < take;)
            {
                var inBlock = (int)(_position + done) % _block.Length;
                var n = Math.Min(take - done, _block.Length - inBlock);
                _block.AsSpan(inBlock, n).CopyTo(buffer[done..]);
                done += n;
            }

            // Make each MiB differ so the data is not a repeated block.
            if (take >= 8)
            {
                BitConverter.TryWriteBytes(buffer[..8], _position);
            }

            if (hash)
            {
                _sha.AppendData(buffer[..take]);
            }

            _position += take;
            return take;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(Read(buffer.Span));
        public override long Length => length;
    }

    private sealed class HashSink(IncrementalHash sha) : WriteOnlyStream
    {
        public override void Write(byte[] buffer, int offset, int count) => sha.AppendData(buffer, offset, count);
        public override void Write(ReadOnlySpan<byte> buffer) => sha.AppendData(buffer);
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            sha.AppendData(buffer.Span);
            return ValueTask.CompletedTask;
        }
    }
}

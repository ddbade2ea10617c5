using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;

namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>
/// The snapshot artifact is a tar stream stored gzip-compressed, compressed once by the snapshot service so that the
/// public and Telegram sinks ship those bytes as they are. Artifacts written before that are plain tar; readers tell the
/// two apart by gzip's magic bytes (1f 8b; a tar stream starts with a file name, never with them).
/// </summary>
public static class ArtifactCompression
{
    /// <summary>gzip's default level: on this data it compresses about as fast as the JSON is written (docs/performance.md).</summary>
    public const CompressionLevel Level = CompressionLevel.Optimal;

    /// <summary>
    /// Reads the first two bytes of <paramref name="raw"/> and returns a stream that yields all of its bytes again, and
    /// whether they start like gzip, or are none at all.
    /// </summary>
    public static async Task<(Stream Bytes, bool IsGzip, bool IsEmpty)> PeekAsync(Stream raw, CancellationToken cancellationToken)
    {
        var head = new byte[2];
        var read = await raw.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, cancellationToken);
        return (new PrefixedReadStream(head.AsMemory(0, read), raw), read == 2 && head[0] == 0x1f && head[1] == 0x8b, read == 0);
    }

    /// <summary>
    /// A gunzip of <paramref name="compressed"/> that, once read to its end, throws <see cref="InvalidDataException"/>
    /// unless the gzip stream ended with its trailer and that trailer's CRC-32 and length match the bytes decompressed.
    /// .NET's <see cref="GZipStream"/> alone ends quietly when its input stops short. One gzip member only (what
    /// <see cref="SnapshotArchive.WriteCompressedAsync"/> writes).
    /// </summary>
    public static Stream CheckedDecompression(Stream compressed) => new CheckedGunzipStream(compressed);

    private sealed class CheckedGunzipStream : ReadOnlyStream
    {
        private readonly TailKeepingStream _compressed;
        private readonly GZipStream _gzip;
        private readonly Crc32 _crc = new();
        private long _length;
        private bool _endChecked;

        public CheckedGunzipStream(Stream compressed)
        {
            _compressed = new TailKeepingStream(compressed);
            _gzip = new GZipStream(_compressed, CompressionMode.Decompress, leaveOpen: true);
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int read;
            try
            {
                read = _gzip.Read(buffer);
            }
            catch (InvalidDataException e)
            {
                throw Damaged(e);
            }

            if (read == 0 && buffer.Length > 0 && !_endChecked) // a zero-length read is not the end
            {
                CheckEnd(_compressed.Drain());
            }

            return Took(read, buffer);
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int read;
            try
            {
                read = await _gzip.ReadAsync(buffer, cancellationToken);
            }
            catch (InvalidDataException e)
            {
                throw Damaged(e);
            }

            if (read == 0 && buffer.Length > 0 && !_endChecked)
            {
                CheckEnd(await _compressed.DrainAsync(cancellationToken));
            }

            return Took(read, buffer.Span);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private int Took(int read, ReadOnlySpan<byte> buffer)
        {
            _crc.Append(buffer[..read]);
            _length += read;
            return read;
        }

        // At gzip's end: nothing may follow in the input, and its last eight bytes are the trailer of what came out.
        // Marked checked only when it passed, so every read after a failure fails again.
        private void CheckEnd(bool inputEnded)
        {
            Span<byte> trailer = stackalloc byte[8];
            if (!inputEnded || !_compressed.TryGetTail(trailer)
                || BinaryPrimitives.ReadUInt32LittleEndian(trailer) != _crc.GetCurrentHashAsUInt32()
                || BinaryPrimitives.ReadUInt32LittleEndian(trailer[4..]) != unchecked((uint)_length))
            {
                throw new InvalidDataException("Snapshot archive's gzip stream is truncated or damaged: it does not end with the CRC-32 and length of its content (or more follows it).");
            }

            _endChecked = true;
        }

        private static InvalidDataException Damaged(InvalidDataException e) =>
            new($"Snapshot archive's gzip stream is damaged: {e.Message}", e);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _gzip.Dispose();
            }

            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            await _gzip.DisposeAsync();
            await base.DisposeAsync();
        }
    }

    /// <summary>Passes reads through and keeps the last eight bytes read (a gzip trailer, once the input has ended).</summary>
    private sealed class TailKeepingStream(Stream inner) : ReadOnlyStream
    {
        private readonly byte[] _tail = new byte[8];
        private long _total;

        public override int Read(byte[] buffer, int offset, int count) => Keep(inner.Read(buffer, offset, count), buffer.AsSpan(offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Keep(await inner.ReadAsync(buffer, cancellationToken), buffer.Span);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private int Keep(int read, ReadOnlySpan<byte> buffer)
        {
            var data = buffer[..read];
            if (data.Length >= _tail.Length)
            {
                data[^_tail.Length..].CopyTo(_tail);
            }
            else if (data.Length > 0)
            {
                _tail.AsSpan(data.Length).CopyTo(_tail); // shift left by what came in
                data.CopyTo(_tail.AsSpan(_tail.Length - data.Length));
            }

            _total += read;
            return read;
        }

        /// <summary>Whether the input has ended (gzip has normally read it all by then); reads at most one more buffer.</summary>
        public bool Drain() => Read(new byte[4096], 0, 4096) == 0;

        public async ValueTask<bool> DrainAsync(CancellationToken cancellationToken) => await ReadAsync(new byte[4096], cancellationToken) == 0;

        public bool TryGetTail(Span<byte> tail)
        {
            if (_total < _tail.Length)
            {
                return false;
            }

            _tail.CopyTo(tail);
            return true;
        }
    }

    /// <summary>The bytes already read, then the rest of the stream (which is not disposed with this one).</summary>
    private sealed class PrefixedReadStream(ReadOnlyMemory<byte> prefix, Stream rest) : ReadOnlyStream
    {
        private ReadOnlyMemory<byte> _prefix = prefix;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_prefix.IsEmpty)
            {
                return rest.Read(buffer);
            }

            var taken = Math.Min(buffer.Length, _prefix.Length);
            _prefix.Span[..taken].CopyTo(buffer);
            _prefix = _prefix[taken..];
            return taken;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_prefix.IsEmpty)
            {
                return await rest.ReadAsync(buffer, cancellationToken);
            }

            return Read(buffer.Span);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }
}

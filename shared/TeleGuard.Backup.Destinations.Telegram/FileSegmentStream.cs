using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>A read-only window on a file: <c>length</c> bytes from <c>offset</c>.</summary>
public sealed class FileSegmentStream : ReadOnlyStream
{
    private readonly FileStream _file;
    private readonly long _length;
    private long _position;

    public FileSegmentStream(string path, long offset, long length)
    {
        _file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
        _file.Seek(offset, SeekOrigin.Begin);
        _length = length;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var take = (int)Math.Min(buffer.Length, _length - _position);
        if (take <= 0)
        {
            return 0;
        }

        var read = _file.Read(buffer[..take]);
        _position += read;
        return read;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var take = (int)Math.Min(buffer.Length, _length - _position);
        if (take <= 0)
        {
            return 0;
        }

        var read = await _file.ReadAsync(buffer[..take], cancellationToken);
        _position += read;
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override long Length => _length;
    public override long Position { get => _position; set => throw new NotSupportedException(); }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _file.Dispose();
        }

        base.Dispose(disposing);
    }
}

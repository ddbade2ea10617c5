using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Destinations;

/// <summary>Reads from <paramref name="source"/> and writes every byte read to <paramref name="copy"/> as well.</summary>
internal sealed class CopyingReadStream(Stream source, Stream copy) : ReadOnlyStream
{
    public override int Read(byte[] buffer, int offset, int count)
    {
        var read = source.Read(buffer, offset, count);
        copy.Write(buffer, offset, read);
        return read;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await source.ReadAsync(buffer, cancellationToken);
        await copy.WriteAsync(buffer[..read], cancellationToken);
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
}

namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>Reads several files one after the other as one stream.</summary>
public sealed class ConcatenatedFilesStream(IReadOnlyList<string> files) : ReadOnlyStream
{
    private int _index = -1;
    private FileStream? _current;

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            if (_current is null)
            {
                if (++_index >= files.Count)
                {
                    return 0;
                }

                _current = File.OpenRead(files[_index]);
            }

            var read = await _current.ReadAsync(buffer, cancellationToken);
            if (read > 0)
            {
                return read;
            }

            await _current.DisposeAsync();
            _current = null;
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _current?.Dispose();
        }

        base.Dispose(disposing);
    }
}

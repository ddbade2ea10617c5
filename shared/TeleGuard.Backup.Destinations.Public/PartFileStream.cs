using System.Security.Cryptography;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Destinations.Public;

/// <summary>
/// A write-only stream that stores what it is given as numbered files of at most <c>maxFileBytes</c>, hashing each file
/// and the whole. Named <c>NAME</c> when one file suffices, else <c>NAME.part-0001</c>, <c>NAME.part-0002</c>, ….
/// </summary>
public sealed class PartFileStream(string directory, string name, long maxFileBytes) : WriteOnlyStream
{
    private readonly IncrementalHash _whole = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly List<(string Path, long Size, string Sha256)> _parts = [];
    private IncrementalHash? _partHash;
    private FileStream? _part;
    private long _partBytes;

    public long TotalBytes { get; private set; }

    /// <summary>Closes the last file, names the files, and returns (file name, size, SHA-256) per file and the whole SHA-256.</summary>
    public (IReadOnlyList<(string FileName, long Size, string Sha256)> Files, string Sha256) Complete()
    {
        ClosePart();
        var files = new List<(string, long, string)>();
        for (var i = 0; i < _parts.Count; i++)
        {
            var fileName = _parts.Count == 1 ? name : $"{name}.part-{i + 1:D4}";
            File.Move(_parts[i].Path, Path.Combine(directory, fileName), overwrite: true);
            files.Add((fileName, _parts[i].Size, _parts[i].Sha256));
        }

        return (files, Convert.ToHexStringLower(_whole.GetHashAndReset()));
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _whole.AppendData(buffer);
        TotalBytes += buffer.Length;
        while (!buffer.IsEmpty)
        {
            if (_part is null || _partBytes == maxFileBytes)
            {
                ClosePart();
                var path = Path.Combine(directory, $".{name}.{_parts.Count + 1}.tmp");
                _part = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
                _partHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                _partBytes = 0;
            }

            var take = (int)Math.Min(buffer.Length, maxFileBytes - _partBytes);
            _part.Write(buffer[..take]);
            _partHash!.AppendData(buffer[..take]);
            _partBytes += take;
            buffer = buffer[take..];
        }
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Write(buffer.AsSpan(offset, count));
        return Task.CompletedTask;
    }

    private void ClosePart()
    {
        if (_part is null)
        {
            return;
        }

        _part.Dispose();
        _parts.Add((_part.Name, _partBytes, Convert.ToHexStringLower(_partHash!.GetHashAndReset())));
        _partHash.Dispose();
        _part = null;
    }

    public override long Length => TotalBytes;
    public override long Position { get => TotalBytes; set => throw new NotSupportedException(); }
    public override void Flush() => _part?.Flush();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _part?.Dispose();
            _partHash?.Dispose();
            _whole.Dispose();
        }

        base.Dispose(disposing);
    }
}

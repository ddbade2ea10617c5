using System.Security.Cryptography;

namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>
/// Writes one collection's JSON lines into numbered part files no larger than the part size (a line is never split;
/// a single line larger than the part size gets a part of its own), hashing each part and the whole stream.
/// </summary>
public sealed class JsonLinesPartWriter : IDisposable
{
    private readonly string _rootDirectory;
    private readonly string _collectionDirectory;
    private readonly long _maxPartBytes;
    private readonly IncrementalHash _totalHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly IncrementalHash _partHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly List<PartEntry> _parts = [];
    private FileStream? _part;
    private string? _partFile;
    private long _partBytes;
    private long _partDocuments;

    public JsonLinesPartWriter(string rootDirectory, string collectionDirectory, long maxPartBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPartBytes, 1024);
        _rootDirectory = rootDirectory;
        _collectionDirectory = collectionDirectory;
        _maxPartBytes = maxPartBytes;
        Directory.CreateDirectory(Path.Combine(rootDirectory, collectionDirectory));
    }

    public long Documents { get; private set; }
    public long Bytes { get; private set; }

    /// <summary>Appends one line (including its trailing newline).</summary>
    public void WriteLine(ReadOnlySpan<byte> line)
    {
        if (_part is null || (_partBytes > 0 && _partBytes + line.Length > _maxPartBytes))
        {
            StartPart();
        }

        _part!.Write(line);
        _partHash.AppendData(line);
        _totalHash.AppendData(line);
        _partBytes += line.Length;
        _partDocuments++;
        Bytes += line.Length;
        Documents++;
    }

    /// <summary>Ends the current part here: the next line starts a new one (part boundaries chosen by content).</summary>
    public void EndPart() => FinishPart();

    /// <summary>Closes the last part. An empty collection has no parts, and the SHA-256 of zero bytes.</summary>
    public (IReadOnlyList<PartEntry> Parts, string Sha256) Complete()
    {
        FinishPart();
        return (_parts, Convert.ToHexStringLower(_totalHash.GetHashAndReset()));
    }

    private void StartPart()
    {
        FinishPart();
        _partFile = SnapshotPaths.PartFile(_collectionDirectory, _parts.Count + 1);
        _part = new FileStream(Path.Combine(_rootDirectory, _partFile), FileMode.CreateNew, FileAccess.Write, FileShare.None,
            bufferSize: 1 << 20);
        _partBytes = 0;
        _partDocuments = 0;
    }

    private void FinishPart()
    {
        if (_part is null)
        {
            return;
        }

        _part.Flush(flushToDisk: false);
        _part.Dispose();
        _part = null;
        _parts.Add(new PartEntry(_partFile!, _partDocuments, _partBytes, Convert.ToHexStringLower(_partHash.GetHashAndReset())));
    }

    public void Dispose()
    {
        _part?.Dispose();
        _totalHash.Dispose();
        _partHash.Dispose();
    }
}

namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>
/// Reads a JSON Lines stream line by line as bytes (each line including its <c>\n</c>), in memory bounded by the longest
/// line, which may not exceed <c>maxLineBytes</c> (a file without newlines must not take all memory).
/// </summary>
public sealed class JsonLinesReader(Stream stream, int bufferSize = 1 << 20, int maxLineBytes = int.MaxValue)
{
    private readonly byte[] _buffer = new byte[bufferSize];
    private byte[] _line = new byte[64 * 1024];
    private int _start;
    private int _end;

    /// <summary>The next line (valid until the next call), or empty at the end. A last line without <c>\n</c> is an error.</summary>
    public ReadOnlyMemory<byte> ReadLine()
    {
        var length = 0;
        while (true)
        {
            if (_start == _end)
            {
                _start = 0;
                _end = stream.Read(_buffer, 0, _buffer.Length);
                if (_end == 0)
                {
                    if (length > 0)
                    {
                        throw new InvalidDataException("JSON Lines data ends in the middle of a line.");
                    }

                    return ReadOnlyMemory<byte>.Empty;
                }
            }

            var available = _buffer.AsSpan(_start, _end - _start);
            var newline = available.IndexOf((byte)'\n');
            var take = newline < 0 ? available.Length : newline + 1;
            if ((long)length + take > maxLineBytes)
            {
                throw new InvalidDataException($"A JSON line is longer than {maxLineBytes} bytes.");
            }

            if (_line.Length < length + take)
            {
                Array.Resize(ref _line, Math.Max(_line.Length * 2, length + take));
            }

            available[..take].CopyTo(_line.AsSpan(length));
            length += take;
            _start += take;
            if (newline >= 0)
            {
                return _line.AsMemory(0, length);
            }
        }
    }
}

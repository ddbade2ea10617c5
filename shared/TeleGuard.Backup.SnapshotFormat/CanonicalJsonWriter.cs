using System.Buffers;
using System.Buffers.Binary;
using System.Buffers.Text;
using System.Globalization;
using System.Text.Unicode;
using MongoDB.Bson;

namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>
/// Turns raw BSON bytes into MongoDB Extended JSON v2, canonical mode, compact (no insignificant whitespace).
/// Works on the bytes directly instead of going through <see cref="BsonDocument"/>: it is several times faster than
/// the driver's JsonWriter and keeps the sign of -0.0, which the driver's writer loses.
/// Field order, int32 vs int64, Decimal128 trailing zeros and binary subtypes are kept exactly. What canonical Extended
/// JSON cannot carry is escaped (see <see cref="SnapshotEscapes"/>): documents whose first field name starts with <c>$</c>
/// (they would read back as type wrappers), NaN doubles other than <c>0x7FF8000000000000</c>, and Decimal128 values whose
/// text does not parse back to the same bits. Bytes that are not valid BSON (a boolean other than 0 or 1, a string that
/// is not UTF-8, a bad length) are refused with a <see cref="FormatException"/>.
/// </summary>
public sealed class CanonicalJsonWriter
{
    private static readonly SearchValues<byte> CharsNeedingEscape =
        SearchValues.Create([.. Enumerable.Range(0, 0x20).Select(b => (byte)b), (byte)'"', (byte)'\\']);

    private static ReadOnlySpan<byte> HexDigits => "0123456789abcdef"u8;

    private byte[] _buffer;
    private int _length;

    public CanonicalJsonWriter(int initialCapacity = 64 * 1024) => _buffer = new byte[initialCapacity];

    /// <summary>The JSON written since the last <see cref="Reset"/>.</summary>
    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, _length);

    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _length);

    public int Length => _length;

    public void Reset() => _length = 0;

    /// <summary>Appends one document as a JSON object followed by <c>\n</c>.</summary>
    public void WriteLine(ReadOnlySpan<byte> bsonDocument)
    {
        WriteDocument(bsonDocument);
        Append((byte)'\n');
    }

    /// <summary>Appends one document as a JSON object.</summary>
    public void WriteDocument(ReadOnlySpan<byte> bsonDocument)
    {
        var consumed = WriteDocumentAt(bsonDocument, 0, isArray: false, depth: 0);
        if (consumed != bsonDocument.Length)
        {
            throw new FormatException($"BSON document length {consumed} does not match the {bsonDocument.Length} bytes given.");
        }
    }

    /// <summary>Convenience for callers holding a <see cref="BsonDocument"/> (metadata, tests).</summary>
    public void WriteDocument(BsonDocument document) => WriteDocument(document.ToBson());

    public static string ToCanonicalJson(BsonDocument document)
    {
        var writer = new CanonicalJsonWriter(1024);
        writer.WriteDocument(document);
        return System.Text.Encoding.UTF8.GetString(writer.Written);
    }

    // Returns the number of bytes the (sub)document occupies.
    private int WriteDocumentAt(ReadOnlySpan<byte> bson, int offset, bool isArray, int depth) =>
        WriteDocumentAt(bson, offset, isArray ? Container.Array : Container.Document, depth);

    private enum Container
    {
        Document,
        Array,

        /// <summary>An array whose keys are not 0, 1, 2…: written as an object under <c>$teleguardArray</c>, keys kept.</summary>
        EscapedArray,
    }

    private int WriteDocumentAt(ReadOnlySpan<byte> bson, int offset, Container container, int depth)
    {
        if (depth > 200)
        {
            throw new FormatException("BSON nesting deeper than 200 levels.");
        }

        var size = ReadInt32(bson, offset);
        if (size < 5 || offset + size > bson.Length || bson[offset + size - 1] != 0)
        {
            throw new FormatException($"Invalid BSON document size {size} at offset {offset}.");
        }

        var start = _length;
        var isArray = container == Container.Array;
        var end = offset + size - 1;
        var position = offset + 4;
        // A document whose first field name starts with '$' would read back as a type wrapper: wrap it. The escaped
        // array's object holds its keys literally, whatever they look like.
        var escaped = container == Container.EscapedArray || (container == Container.Document && position < end && NeedsEscape(bson[(position + 1)..end]));
        if (escaped)
        {
            Append(container == Container.EscapedArray ? SnapshotEscapes.ArrayPrefix : SnapshotEscapes.DocumentPrefix);
        }

        Append(isArray ? (byte)'[' : (byte)'{');
        Span<byte> expectedKey = stackalloc byte[11];
        var index = 0;
        while (position < end)
        {
            var type = bson[position++];
            var nameLength = bson[position..end].IndexOf((byte)0);
            if (nameLength < 0)
            {
                throw new FormatException("Unterminated BSON element name.");
            }

            var name = bson.Slice(position, nameLength);
            position += nameLength + 1;
            if (index > 0)
            {
                Append((byte)',');
            }

            if (isArray)
            {
                index.TryFormat(expectedKey, out var keyLength, default, CultureInfo.InvariantCulture);
                if (!name.SequenceEqual(expectedKey[..keyLength]))
                {
                    // The server stores arrays with any keys; JSON arrays have none: start over in the escaped form.
                    _length = start;
                    return WriteDocumentAt(bson, offset, Container.EscapedArray, depth);
                }
            }
            else
            {
                WriteString(name);
                Append((byte)':');
            }

            index++;
            position = WriteValue(bson, position, type, depth);
            if (position > end)
            {
                throw new FormatException("BSON element runs past the end of its document.");
            }
        }

        Append(isArray ? (byte)']' : (byte)'}');
        if (escaped)
        {
            Append((byte)'}');
        }

        return size;
    }

    // A first field name starting with '$' would read as a type wrapper; "$ref" (a DBRef) reads as a document everywhere.
    private static bool NeedsEscape(ReadOnlySpan<byte> firstName) =>
        firstName.Length > 0 && firstName[0] == (byte)'$' && !firstName.StartsWith("$ref\0"u8);

    // Writes the value of the given type that starts at position; returns the position after it.
    private int WriteValue(ReadOnlySpan<byte> bson, int position, byte type, int depth)
    {
        // Fixed-width values must fit in what is left: a truncated document is a FormatException, never an index error.
        Need(bson, position, type switch
        {
            0x01 or 0x09 or 0x11 or 0x12 => 8,
            0x07 => 12,
            0x08 => 1,
            0x10 => 4,
            0x13 => 16,
            0x05 => 5,
            _ => 0,
        });
        switch (type)
        {
            case 0x01: // double
                WriteDouble(BinaryPrimitives.ReadDoubleLittleEndian(bson.Slice(position, 8)));
                return position + 8;
            case 0x02: // string
                {
                    var text = ReadBsonString(bson, position, out var next);
                    WriteString(text);
                    return next;
                }
            case 0x03: // embedded document
                return position + WriteDocumentAt(bson, position, isArray: false, depth + 1);
            case 0x04: // array
                return position + WriteDocumentAt(bson, position, isArray: true, depth + 1);
            case 0x05: // binary
                {
                    var length = ReadInt32(bson, position);
                    var subType = bson[position + 4];
                    if (length < 0)
                    {
                        throw new FormatException($"Invalid BSON binary length {length}.");
                    }

                    Need(bson, position + 5, length);
                    var payload = bson.Slice(position + 5, length);
                    if (subType == 0x02)
                    {
                        // The old binary subtype repeats the length inside the payload; Extended JSON carries the bytes after it.
                        if (length < 4 || ReadInt32(payload, 0) != length - 4)
                        {
                            throw new FormatException("Invalid BSON binary subtype 2 inner length.");
                        }

                        payload = payload[4..];
                    }

                    Append("{\"$binary\":{\"base64\":\""u8);
                    WriteBase64(payload);
                    Append("\",\"subType\":\""u8);
                    Append(HexDigits[subType >> 4]);
                    Append(HexDigits[subType & 0xF]);
                    Append("\"}}"u8);
                    return position + 5 + length;
                }
            case 0x06: // undefined (deprecated)
                Append("{\"$undefined\":true}"u8);
                return position;
            case 0x07: // ObjectId
                Append("{\"$oid\":\""u8);
                WriteHex(bson.Slice(position, 12));
                Append("\"}"u8);
                return position + 12;
            case 0x08: // boolean
                Append(bson[position] switch
                {
                    0 => "false"u8,
                    1 => "true"u8,
                    var other => throw new FormatException($"Invalid BSON boolean byte 0x{other:x2}."),
                });
                return position + 1;
            case 0x09: // UTC datetime
                Append("{\"$date\":{\"$numberLong\":\""u8);
                WriteInt64(BinaryPrimitives.ReadInt64LittleEndian(bson.Slice(position, 8)));
                Append("\"}}"u8);
                return position + 8;
            case 0x0A: // null
                Append("null"u8);
                return position;
            case 0x0B: // regular expression
                {
                    var pattern = ReadCString(bson, position, out var afterPattern);
                    var options = ReadCString(bson, afterPattern, out var afterOptions);
                    Append("{\"$regularExpression\":{\"pattern\":"u8);
                    WriteString(pattern);
                    Append(",\"options\":"u8);
                    WriteString(options);
                    Append("}}"u8);
                    return afterOptions;
                }
            case 0x0C: // DBPointer (deprecated)
                {
                    var ns = ReadBsonString(bson, position, out var next);
                    Append("{\"$dbPointer\":{\"$ref\":"u8);
                    WriteString(ns);
                    Append(",\"$id\":{\"$oid\":\""u8);
                    Need(bson, next, 12);
                    WriteHex(bson.Slice(next, 12));
                    Append("\"}}}"u8);
                    return next + 12;
                }
            case 0x0D: // JavaScript code
                {
                    var code = ReadBsonString(bson, position, out var next);
                    Append("{\"$code\":"u8);
                    WriteString(code);
                    Append((byte)'}');
                    return next;
                }
            case 0x0E: // symbol (deprecated)
                {
                    var symbol = ReadBsonString(bson, position, out var next);
                    Append("{\"$symbol\":"u8);
                    WriteString(symbol);
                    Append((byte)'}');
                    return next;
                }
            case 0x0F: // code with scope (deprecated)
                {
                    var total = ReadInt32(bson, position);
                    var code = ReadBsonString(bson, position + 4, out var next);
                    Append("{\"$code\":"u8);
                    WriteString(code);
                    Append(",\"$scope\":"u8);
                    next += WriteDocumentAt(bson, next, isArray: false, depth + 1);
                    Append((byte)'}');
                    if (next != position + total)
                    {
                        throw new FormatException("Invalid BSON code-with-scope length.");
                    }

                    return next;
                }
            case 0x10: // int32
                Append("{\"$numberInt\":\""u8);
                WriteInt64(ReadInt32(bson, position));
                Append("\"}"u8);
                return position + 4;
            case 0x11: // timestamp: increment in the low 32 bits, seconds in the high 32 bits
                Append("{\"$timestamp\":{\"t\":"u8);
                WriteUInt64(BinaryPrimitives.ReadUInt32LittleEndian(bson.Slice(position + 4, 4)));
                Append(",\"i\":"u8);
                WriteUInt64(BinaryPrimitives.ReadUInt32LittleEndian(bson.Slice(position, 4)));
                Append("}}"u8);
                return position + 8;
            case 0x12: // int64
                Append("{\"$numberLong\":\""u8);
                WriteInt64(BinaryPrimitives.ReadInt64LittleEndian(bson.Slice(position, 8)));
                Append("\"}"u8);
                return position + 8;
            case 0x13: // decimal128
                {
                    var low = BinaryPrimitives.ReadUInt64LittleEndian(bson.Slice(position, 8));
                    var high = BinaryPrimitives.ReadUInt64LittleEndian(bson.Slice(position + 8, 8));
                    WriteDecimal128(high, low);
                    return position + 16;
                }
            case 0xFF:
                Append("{\"$minKey\":1}"u8);
                return position;
            case 0x7F:
                Append("{\"$maxKey\":1}"u8);
                return position;
            default:
                throw new FormatException($"Unknown BSON type 0x{type:x2}.");
        }
    }

    private void WriteDecimal128(ulong high, ulong low)
    {
        var text = Decimal128.FromIEEEBits(high, low).ToString();
        if (SnapshotEscapes.Decimal128RoundTrips(text, high, low))
        {
            Append("{\"$numberDecimal\":\""u8);
            WriteAscii(text);
        }
        else
        {
            // NaN signs and payloads, non-canonical encodings: the text would read back as other bits.
            Append(SnapshotEscapes.Decimal128Prefix);
            Span<byte> bits = stackalloc byte[16];
            BinaryPrimitives.WriteUInt64BigEndian(bits, high);
            BinaryPrimitives.WriteUInt64BigEndian(bits[8..], low);
            WriteHex(bits);
        }

        Append("\"}"u8);
    }

    private void WriteDouble(double value)
    {
        if (double.IsNaN(value) && BitConverter.DoubleToInt64Bits(value) != SnapshotEscapes.CanonicalNaNBits)
        {
            // "NaN" reads back as 0x7FF8000000000000; any other NaN keeps its exact bits.
            Append(SnapshotEscapes.DoublePrefix);
            Span<byte> bits = stackalloc byte[8];
            BinaryPrimitives.WriteInt64BigEndian(bits, BitConverter.DoubleToInt64Bits(value));
            WriteHex(bits);
            Append("\"}"u8);
            return;
        }

        Append("{\"$numberDouble\":\""u8);
        if (double.IsNaN(value))
        {
            Append("NaN"u8);
        }
        else if (double.IsPositiveInfinity(value))
        {
            Append("Infinity"u8);
        }
        else if (double.IsNegativeInfinity(value))
        {
            Append("-Infinity"u8);
        }
        else
        {
            EnsureCapacity(32);
            var span = _buffer.AsSpan(_length);
            // "R" is the shortest text that parses back to the same bits, and keeps "-0".
            value.TryFormat(span, out var written, "R", CultureInfo.InvariantCulture);
            var text = span[..written];
            _length += written;
            if (text.IndexOfAny(".EN"u8) < 0 && text.IndexOf((byte)'I') < 0)
            {
                Append(".0"u8); // integral values read as doubles, as in the specification's examples ("1.0", "-0.0")
            }
        }

        Append("\"}"u8);
    }

    private void WriteInt64(long value)
    {
        EnsureCapacity(24);
        value.TryFormat(_buffer.AsSpan(_length), out var written, default, CultureInfo.InvariantCulture);
        _length += written;
    }

    private void WriteUInt64(ulong value)
    {
        EnsureCapacity(24);
        value.TryFormat(_buffer.AsSpan(_length), out var written, default, CultureInfo.InvariantCulture);
        _length += written;
    }

    private void WriteHex(ReadOnlySpan<byte> bytes)
    {
        EnsureCapacity(bytes.Length * 2);
        var span = _buffer.AsSpan(_length);
        for (var i = 0; i < bytes.Length; i++)
        {
            span[2 * i] = HexDigits[bytes[i] >> 4];
            span[2 * i + 1] = HexDigits[bytes[i] & 0xF];
        }

        _length += bytes.Length * 2;
    }

    private void WriteBase64(ReadOnlySpan<byte> bytes)
    {
        var needed = Base64.GetMaxEncodedToUtf8Length(bytes.Length);
        EnsureCapacity(needed);
        Base64.EncodeToUtf8(bytes, _buffer.AsSpan(_length), out _, out var written);
        _length += written;
    }

    private void WriteAscii(string text)
    {
        EnsureCapacity(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            _buffer[_length++] = (byte)text[i];
        }
    }

    /// <summary>Writes UTF-8 text as a JSON string, escaping only what JSON requires.</summary>
    private void WriteString(ReadOnlySpan<byte> utf8)
    {
        if (!Utf8.IsValid(utf8))
        {
            throw new FormatException("BSON string is not valid UTF-8.");
        }

        Append((byte)'"');
        while (true)
        {
            var next = utf8.IndexOfAny(CharsNeedingEscape);
            if (next < 0)
            {
                Append(utf8);
                break;
            }

            Append(utf8[..next]);
            WriteEscaped(utf8[next]);
            utf8 = utf8[(next + 1)..];
        }

        Append((byte)'"');
    }

    private void WriteEscaped(byte b)
    {
        switch (b)
        {
            case (byte)'"': Append("\\\""u8); break;
            case (byte)'\\': Append("\\\\"u8); break;
            case (byte)'\n': Append("\\n"u8); break;
            case (byte)'\r': Append("\\r"u8); break;
            case (byte)'\t': Append("\\t"u8); break;
            case (byte)'\b': Append("\\b"u8); break;
            case (byte)'\f': Append("\\f"u8); break;
            default:
                Append("\\u00"u8);
                Append(HexDigits[b >> 4]);
                Append(HexDigits[b & 0xF]);
                break;
        }
    }

    private static void Need(ReadOnlySpan<byte> bson, int position, int count)
    {
        if (position < 0 || (long)position + count > bson.Length)
        {
            throw new FormatException("BSON truncated: a value runs past the end of the document.");
        }
    }

    private static int ReadInt32(ReadOnlySpan<byte> bson, int position)
    {
        if (position < 0 || position + 4 > bson.Length)
        {
            throw new FormatException("BSON truncated.");
        }

        return BinaryPrimitives.ReadInt32LittleEndian(bson.Slice(position, 4));
    }

    private static ReadOnlySpan<byte> ReadBsonString(ReadOnlySpan<byte> bson, int position, out int next)
    {
        var length = ReadInt32(bson, position); // includes the terminating zero
        if (length < 1 || position + 4 + length > bson.Length || bson[position + 4 + length - 1] != 0)
        {
            throw new FormatException("Invalid BSON string.");
        }

        next = position + 4 + length;
        return bson.Slice(position + 4, length - 1);
    }

    private static ReadOnlySpan<byte> ReadCString(ReadOnlySpan<byte> bson, int position, out int next)
    {
        Need(bson, position, 1);
        var length = bson[position..].IndexOf((byte)0);
        if (length < 0)
        {
            throw new FormatException("Unterminated BSON cstring.");
        }

        next = position + length + 1;
        return bson.Slice(position, length);
    }

    private void Append(byte b)
    {
        if (_length == _buffer.Length)
        {
            Grow(1);
        }

        _buffer[_length++] = b;
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        EnsureCapacity(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    private void EnsureCapacity(int additional)
    {
        if (_buffer.Length - _length < additional)
        {
            Grow(additional);
        }
    }

    private void Grow(int additional)
    {
        var size = Math.Max(_buffer.Length * 2, _length + additional);
        Array.Resize(ref _buffer, size);
    }
}

using System.Buffers.Binary;
using System.Buffers.Text;
using System.Globalization;
using System.Text;
using System.Text.Unicode;
using MongoDB.Bson;
using MongoDB.Bson.Serialization;

namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>
/// Decodes one line of the snapshot format (canonical Extended JSON v2 with the <see cref="SnapshotEscapes"/>) straight
/// into BSON bytes, without a <see cref="BsonDocument"/> in between: what <see cref="CanonicalJsonWriter"/> wrote from
/// a document's bytes decodes to exactly those bytes (NaN payloads, -0.0, binary subtype 2, DBPointer, field order and
/// duplicate names included). Only the canonical forms are accepted: relaxed or legacy wrappers, bare numbers, unknown
/// <c>$</c> keys and anything else the writer never produces are refused with a <see cref="FormatException"/> that says
/// where. One instance reuses its buffer; it is not thread-safe.
/// </summary>
public sealed class CanonicalJsonReader
{
    /// <summary>MongoDB nests documents at most 100 deep; allow the writer's limit and no more.</summary>
    private const int MaxDepth = 200;

    private byte[] _buffer;
    private int _length;
    private byte[] _scratch = new byte[256];

    public CanonicalJsonReader(int initialCapacity = 64 * 1024) => _buffer = new byte[initialCapacity];

    /// <summary>Decodes one JSON line (a trailing <c>\n</c> is allowed) into BSON; the bytes stay valid until the next call.</summary>
    public ReadOnlySpan<byte> Decode(ReadOnlySpan<byte> line) => DecodeToMemory(line).Span;

    /// <inheritdoc cref="Decode"/>
    public ReadOnlyMemory<byte> DecodeToMemory(ReadOnlySpan<byte> line)
    {
        if (line.Length > 0 && line[^1] == (byte)'\n')
        {
            line = line[..^1];
        }

        if (!Utf8.IsValid(line))
        {
            throw new FormatException("The line is not valid UTF-8.");
        }

        _length = 0;
        var position = SkipWhitespace(line, 0);
        if (position >= line.Length || line[position] != (byte)'{')
        {
            throw Error(line, position, "a document (JSON object) was expected");
        }

        var type = WriteValue(line, ref position, 0);
        if (type != 0x03)
        {
            throw Error(line, 0, "the line is a type wrapper, not a document");
        }

        position = SkipWhitespace(line, position);
        if (position != line.Length)
        {
            throw Error(line, position, "trailing characters after the document");
        }

        return _buffer.AsMemory(0, _length);
    }

    /// <summary>Convenience for small documents (metadata, tests): one line into a <see cref="BsonDocument"/>.</summary>
    public static BsonDocument ReadDocument(ReadOnlySpan<byte> line) =>
        BsonSerializer.Deserialize<BsonDocument>(new CanonicalJsonReader(1024).Decode(line).ToArray());

    // Parses the value at position, appends its BSON payload and returns its BSON type.
    private byte WriteValue(ReadOnlySpan<byte> json, ref int position, int depth)
    {
        position = SkipWhitespace(json, position);
        if (position >= json.Length)
        {
            throw Error(json, position, "a value was expected");
        }

        switch (json[position])
        {
            case (byte)'"':
                WriteLengthPrefixedString(json, ref position);
                return 0x02;
            case (byte)'{':
                return WriteObject(json, ref position, depth);
            case (byte)'[':
                WriteArray(json, ref position, depth);
                return 0x04;
            case (byte)'t':
                ExpectLiteral(json, ref position, "true"u8);
                Append(1);
                return 0x08;
            case (byte)'f':
                ExpectLiteral(json, ref position, "false"u8);
                Append(0);
                return 0x08;
            case (byte)'n':
                ExpectLiteral(json, ref position, "null"u8);
                return 0x0A;
            default:
                throw Error(json, position, "unexpected character (canonical Extended JSON has no bare numbers)");
        }
    }

    // An object is a document or a type wrapper, decided by its first key.
    private byte WriteObject(ReadOnlySpan<byte> json, ref int position, int depth)
    {
        if (depth > MaxDepth)
        {
            throw Error(json, position, $"values nested deeper than {MaxDepth} levels");
        }

        var start = SkipWhitespace(json, position);
        if (start >= json.Length || json[start] != (byte)'{')
        {
            throw Error(json, start, "'{' was expected");
        }

        var afterBrace = SkipWhitespace(json, start + 1);
        if (afterBrace + 1 < json.Length && json[afterBrace] == (byte)'"' && json[afterBrace + 1] is (byte)'$' or (byte)'\\')
        {
            var keyEnd = afterBrace;
            var key = ReadString(json, ref keyEnd);
            if (key.Length > 0 && key[0] == (byte)'$' && !key.SequenceEqual("$ref"u8)) // a DBRef is a document
            {
                var wrapper = WrapperOf(key);
                if (wrapper == Wrapper.Unknown)
                {
                    throw Error(json, afterBrace, $"unknown type wrapper {System.Text.Json.JsonSerializer.Serialize(Encoding.UTF8.GetString(key))} (a document whose first field name starts with '$' is written as {SnapshotEscapes.DocumentKey})");
                }

                position = keyEnd;
                Expect(json, ref position, (byte)':');
                return WriteWrapper(json, ref position, wrapper, depth);
            }
        }

        WriteDocument(json, ref position, depth);
        return 0x03;
    }

    private enum Wrapper
    {
        Unknown,
        ObjectId,
        Symbol,
        Int32,
        Int64,
        Double,
        Decimal128,
        Binary,
        Code,
        Timestamp,
        RegularExpression,
        DbPointer,
        Date,
        MinKey,
        MaxKey,
        Undefined,
        EscapedDocument,
        EscapedArray,
        EscapedDouble,
        EscapedDecimal128,
    }

    private static Wrapper WrapperOf(ReadOnlySpan<byte> key) => key switch
    {
        _ when key.SequenceEqual("$oid"u8) => Wrapper.ObjectId,
        _ when key.SequenceEqual("$symbol"u8) => Wrapper.Symbol,
        _ when key.SequenceEqual("$numberInt"u8) => Wrapper.Int32,
        _ when key.SequenceEqual("$numberLong"u8) => Wrapper.Int64,
        _ when key.SequenceEqual("$numberDouble"u8) => Wrapper.Double,
        _ when key.SequenceEqual("$numberDecimal"u8) => Wrapper.Decimal128,
        _ when key.SequenceEqual("$binary"u8) => Wrapper.Binary,
        _ when key.SequenceEqual("$code"u8) => Wrapper.Code,
        _ when key.SequenceEqual("$timestamp"u8) => Wrapper.Timestamp,
        _ when key.SequenceEqual("$regularExpression"u8) => Wrapper.RegularExpression,
        _ when key.SequenceEqual("$dbPointer"u8) => Wrapper.DbPointer,
        _ when key.SequenceEqual("$date"u8) => Wrapper.Date,
        _ when key.SequenceEqual("$minKey"u8) => Wrapper.MinKey,
        _ when key.SequenceEqual("$maxKey"u8) => Wrapper.MaxKey,
        _ when key.SequenceEqual("$undefined"u8) => Wrapper.Undefined,
        _ when key.SequenceEqual("$teleguardDocument"u8) => Wrapper.EscapedDocument,
        _ when key.SequenceEqual("$teleguardArray"u8) => Wrapper.EscapedArray,
        _ when key.SequenceEqual("$teleguardDouble"u8) => Wrapper.EscapedDouble,
        _ when key.SequenceEqual("$teleguardDecimal128"u8) => Wrapper.EscapedDecimal128,
        _ => Wrapper.Unknown,
    };

    // Writes the object at position as a BSON document, its keys taken as field names.
    private void WriteDocument(ReadOnlySpan<byte> json, ref int position, int depth)
    {
        if (depth > MaxDepth)
        {
            throw Error(json, position, $"documents nested deeper than {MaxDepth} levels");
        }

        Expect(json, ref position, (byte)'{');
        var sizeAt = Reserve(4);
        position = SkipWhitespace(json, position);
        if (position < json.Length && json[position] == (byte)'}')
        {
            position++;
        }
        else
        {
            while (true)
            {
                position = SkipWhitespace(json, position);
                var typeAt = Reserve(1);
                WriteCString(json, ref position, "field name");
                position = SkipWhitespace(json, position);
                Expect(json, ref position, (byte)':');
                var type = WriteValue(json, ref position, depth + 1);
                _buffer[typeAt] = type; // after the call: it may have grown (replaced) the buffer
                if (EndOfMembers(json, ref position, (byte)'}'))
                {
                    break;
                }
            }
        }

        Append(0);
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(sizeAt), _length - sizeAt);
    }

    private void WriteArray(ReadOnlySpan<byte> json, ref int position, int depth)
    {
        if (depth > MaxDepth)
        {
            throw Error(json, position, $"arrays nested deeper than {MaxDepth} levels");
        }

        Expect(json, ref position, (byte)'[');
        var sizeAt = Reserve(4);
        position = SkipWhitespace(json, position);
        if (position < json.Length && json[position] == (byte)']')
        {
            position++;
        }
        else
        {
            for (var index = 0; ; index++)
            {
                var typeAt = Reserve(1);
                EnsureCapacity(12);
                index.TryFormat(_buffer.AsSpan(_length), out var written, default, CultureInfo.InvariantCulture);
                _length += written;
                Append(0);
                var type = WriteValue(json, ref position, depth + 1);
                _buffer[typeAt] = type; // after the call: it may have grown (replaced) the buffer
                if (EndOfMembers(json, ref position, (byte)']'))
                {
                    break;
                }
            }
        }

        Append(0);
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(sizeAt), _length - sizeAt);
    }

    // After a member: ',' (more follow) or the closing bracket (true).
    private static bool EndOfMembers(ReadOnlySpan<byte> json, ref int position, byte close)
    {
        position = SkipWhitespace(json, position);
        if (position < json.Length && json[position] == (byte)',')
        {
            position++;
            return false;
        }

        if (position < json.Length && json[position] == close)
        {
            position++;
            return true;
        }

        throw Error(json, position, $"',' or '{(char)close}' was expected");
    }

    // position is after the wrapper's first key and its ':'.
    private byte WriteWrapper(ReadOnlySpan<byte> json, ref int position, Wrapper wrapper, int depth)
    {
        byte type;
        switch (wrapper)
        {
            case Wrapper.ObjectId:
                WriteHexBytes(ReadString(json, ref position), 12, json, position);
                type = 0x07;
                break;
            case Wrapper.Symbol:
                WriteLengthPrefixedString(json, ref position);
                type = 0x0E;
                break;
            case Wrapper.Int32:
                {
                    var text = ReadString(json, ref position);
                    if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
                        || !IsCanonicalInteger(text))
                    {
                        throw Error(json, position, "$numberInt is not a canonical 32-bit integer");
                    }

                    AppendInt32(value);
                    type = 0x10;
                    break;
                }

            case Wrapper.Int64:
                AppendInt64(ReadInt64Text(json, ref position, "$numberLong"));
                type = 0x12;
                break;
            case Wrapper.Double:
                AppendInt64(BitConverter.DoubleToInt64Bits(ParseDouble(ReadString(json, ref position), json, position)));
                type = 0x01;
                break;
            case Wrapper.Decimal128:
                {
                    var text = Encoding.ASCII.GetString(ReadString(json, ref position));
                    if (!Decimal128.TryParse(text, out var value))
                    {
                        throw Error(json, position, "$numberDecimal is not a decimal number");
                    }

                    AppendInt64((long)value.GetIEEELowBits());
                    AppendInt64((long)value.GetIEEEHighBits());
                    type = 0x13;
                    break;
                }

            case Wrapper.Binary:
                WriteBinary(json, ref position);
                type = 0x05;
                break;
            case Wrapper.Code:
                {
                    var totalAt = Reserve(4);
                    WriteLengthPrefixedString(json, ref position);
                    position = SkipWhitespace(json, position);
                    if (position < json.Length && json[position] == (byte)',')
                    {
                        position++;
                        ExpectKey(json, ref position, "$scope"u8);
                        WriteDocumentOrEscaped(json, ref position, depth + 1);
                        BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(totalAt), _length - totalAt);
                        type = 0x0F;
                    }
                    else
                    {
                        // Plain code: drop the reserved total length.
                        _buffer.AsSpan(totalAt + 4, _length - totalAt - 4).CopyTo(_buffer.AsSpan(totalAt));
                        _length -= 4;
                        type = 0x0D;
                    }

                    break;
                }

            case Wrapper.Timestamp:
                {
                        Expect(json, ref position, (byte)'{');
                    ExpectKey(json, ref position, "t"u8);
                    var seconds = ReadUInt32Number(json, ref position);
                    position = SkipWhitespace(json, position);
                    Expect(json, ref position, (byte)',');
                    ExpectKey(json, ref position, "i"u8);
                    var increment = ReadUInt32Number(json, ref position);
                    position = SkipWhitespace(json, position);
                    Expect(json, ref position, (byte)'}');
                    AppendInt32((int)increment);
                    AppendInt32((int)seconds);
                    type = 0x11;
                    break;
                }

            case Wrapper.RegularExpression:
                Expect(json, ref position, (byte)'{');
                ExpectKey(json, ref position, "pattern"u8);
                WriteCString(json, ref position, "regular expression pattern");
                position = SkipWhitespace(json, position);
                Expect(json, ref position, (byte)',');
                ExpectKey(json, ref position, "options"u8);
                WriteCString(json, ref position, "regular expression options");
                position = SkipWhitespace(json, position);
                Expect(json, ref position, (byte)'}');
                type = 0x0B;
                break;
            case Wrapper.DbPointer:
                Expect(json, ref position, (byte)'{');
                ExpectKey(json, ref position, "$ref"u8);
                WriteLengthPrefixedString(json, ref position);
                position = SkipWhitespace(json, position);
                Expect(json, ref position, (byte)',');
                ExpectKey(json, ref position, "$id"u8);
                Expect(json, ref position, (byte)'{');
                ExpectKey(json, ref position, "$oid"u8);
                WriteHexBytes(ReadString(json, ref position), 12, json, position);
                position = SkipWhitespace(json, position);
                Expect(json, ref position, (byte)'}');
                position = SkipWhitespace(json, position);
                Expect(json, ref position, (byte)'}');
                type = 0x0C;
                break;
            case Wrapper.Date:
                Expect(json, ref position, (byte)'{');
                ExpectKey(json, ref position, "$numberLong"u8);
                AppendInt64(ReadInt64Text(json, ref position, "$date"));
                position = SkipWhitespace(json, position);
                Expect(json, ref position, (byte)'}');
                type = 0x09;
                break;
            case Wrapper.MinKey:
                ExpectNumberOne(json, ref position);
                type = 0xFF;
                break;
            case Wrapper.MaxKey:
                ExpectNumberOne(json, ref position);
                type = 0x7F;
                break;
            case Wrapper.Undefined:
                ExpectLiteral(json, ref position, "true"u8);
                type = 0x06;
                break;
            case Wrapper.EscapedDocument:
                WriteDocument(json, ref position, depth);
                type = 0x03;
                break;
            case Wrapper.EscapedArray:
                WriteDocument(json, ref position, depth); // the keys as they were
                type = 0x04;
                break;
            case Wrapper.EscapedDouble:
                WriteHexBytesReversed(ReadString(json, ref position), 8, json, position);
                type = 0x01;
                break;
            case Wrapper.EscapedDecimal128:
                {
                    Span<byte> bits = stackalloc byte[16];
                    DecodeHex(ReadString(json, ref position), bits, json, position);
                    AppendInt64((long)BinaryPrimitives.ReadUInt64BigEndian(bits[8..]));
                    AppendInt64((long)BinaryPrimitives.ReadUInt64BigEndian(bits));
                    type = 0x13;
                    break;
                }

            default:
                throw new ArgumentOutOfRangeException(nameof(wrapper));
        }

        position = SkipWhitespace(json, position);
        if (position >= json.Length || json[position] != (byte)'}')
        {
            throw Error(json, position, "a type wrapper has exactly its canonical keys");
        }

        position++;
        return type;
    }

    // The $scope of code with scope: a document, or an escaped one.
    private void WriteDocumentOrEscaped(ReadOnlySpan<byte> json, ref int position, int depth)
    {
        if (WriteObject(json, ref position, depth) != 0x03)
        {
            throw Error(json, position, "$scope must be a document");
        }
    }

    private void WriteBinary(ReadOnlySpan<byte> json, ref int position)
    {
        Expect(json, ref position, (byte)'{');
        ExpectKey(json, ref position, "base64"u8);
        var base64 = ReadUnescaped(json, ref position);
        Expect(json, ref position, (byte)',');
        ExpectKey(json, ref position, "subType"u8);
        var subType = ReadSubType(json, ref position);
        Expect(json, ref position, (byte)'}');
        if (base64.Length % 4 != 0)
        {
            throw Error(json, position, "$binary base64 is not padded standard base64");
        }

        var lengthAt = Reserve(4);
        Append(subType);
        var innerAt = subType == 0x02 ? Reserve(4) : -1; // the old subtype repeats the length inside the payload
        EnsureCapacity(Base64.GetMaxDecodedFromUtf8Length(base64.Length));
        if (Base64.DecodeFromUtf8(base64, _buffer.AsSpan(_length), out _, out var decoded) != System.Buffers.OperationStatus.Done)
        {
            throw Error(json, position, "$binary base64 is not valid base64");
        }

        _length += decoded;
        if (innerAt >= 0)
        {
            BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(innerAt), decoded);
            decoded += 4;
        }

        BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(lengthAt), decoded);
    }

    // A string that holds no escapes (base64), returned in place.
    private static ReadOnlySpan<byte> ReadUnescaped(ReadOnlySpan<byte> json, ref int position)
    {
        Expect(json, ref position, (byte)'"');
        var length = json[position..].IndexOfAny((byte)'"', (byte)'\\');
        if (length < 0 || json[position + length] != (byte)'"')
        {
            throw Error(json, position, "base64 text without escapes was expected");
        }

        var text = json.Slice(position, length);
        position += length + 1;
        return text;
    }

    // "subType": one or two hex digits, read without touching _scratch (which holds the base64).
    private static byte ReadSubType(ReadOnlySpan<byte> json, ref int position)
    {
        Expect(json, ref position, (byte)'"');
        var value = 0;
        var digits = 0;
        while (position < json.Length && json[position] != (byte)'"')
        {
            var digit = HexValue(json[position]);
            if (digit < 0 || ++digits > 2)
            {
                throw Error(json, position, "$binary subType is one or two hex digits");
            }

            value = (value << 4) | digit;
            position++;
        }

        if (digits == 0)
        {
            throw Error(json, position, "$binary subType is one or two hex digits");
        }

        Expect(json, ref position, (byte)'"');
        return (byte)value;
    }

    private static double ParseDouble(ReadOnlySpan<byte> text, ReadOnlySpan<byte> json, int position)
    {
        if (text.SequenceEqual("NaN"u8))
        {
            return BitConverter.Int64BitsToDouble(SnapshotEscapes.CanonicalNaNBits);
        }

        if (text.SequenceEqual("Infinity"u8))
        {
            return double.PositiveInfinity;
        }

        if (text.SequenceEqual("-Infinity"u8))
        {
            return double.NegativeInfinity;
        }

        if (!double.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent,
                CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
        {
            throw Error(json, position, "$numberDouble is not a number");
        }

        return value;
    }

    private long ReadInt64Text(ReadOnlySpan<byte> json, ref int position, string what)
    {
        var text = ReadString(json, ref position);
        if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) || !IsCanonicalInteger(text))
        {
            throw Error(json, position, $"{what} is not a canonical 64-bit integer");
        }

        return value;
    }

    // No '+', no leading zeros, no "-0": the text the writer produces.
    private static bool IsCanonicalInteger(ReadOnlySpan<byte> text)
    {
        var digits = text.Length > 0 && text[0] == (byte)'-' ? text[1..] : text;
        return digits.Length > 0 && !digits.ContainsAnyExceptInRange((byte)'0', (byte)'9')
            && (digits[0] != (byte)'0' || (digits.Length == 1 && text.Length == 1));
    }

    private static uint ReadUInt32Number(ReadOnlySpan<byte> json, ref int position)
    {
        position = SkipWhitespace(json, position);
        var start = position;
        while (position < json.Length && json[position] is >= (byte)'0' and <= (byte)'9')
        {
            position++;
        }

        var digits = json[start..position];
        if (!uint.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || (digits.Length > 1 && digits[0] == (byte)'0'))
        {
            throw Error(json, start, "an unsigned 32-bit integer was expected");
        }

        return value;
    }

    private static void ExpectNumberOne(ReadOnlySpan<byte> json, ref int position)
    {
        position = SkipWhitespace(json, position);
        if (position >= json.Length || json[position] != (byte)'1' || (position + 1 < json.Length && json[position + 1] is >= (byte)'0' and <= (byte)'9'))
        {
            throw Error(json, position, "1 was expected");
        }

        position++;
    }

    // Decodes the JSON string at position (after optional whitespace) into _scratch.
    private ReadOnlySpan<byte> ReadString(ReadOnlySpan<byte> json, ref int position)
    {
        position = SkipWhitespace(json, position);
        if (position >= json.Length || json[position] != (byte)'"')
        {
            throw Error(json, position, "a string was expected");
        }

        position++;
        var length = 0;
        while (true)
        {
            var rest = json[position..];
            var stop = rest.IndexOfAny((byte)'"', (byte)'\\');
            if (stop < 0)
            {
                throw Error(json, json.Length, "unterminated string");
            }

            var plain = rest[..stop];
            if (plain.IndexOfAnyInRange((byte)0, (byte)0x1F) is var control and >= 0)
            {
                throw Error(json, position + control, "unescaped control character in a string");
            }

            EnsureScratch(length + plain.Length + 4);
            plain.CopyTo(_scratch.AsSpan(length));
            length += plain.Length;
            position += stop;
            if (json[position] == (byte)'"')
            {
                position++;
                return _scratch.AsSpan(0, length);
            }

            length = AppendEscape(json, ref position, length);
        }
    }

    // position is at a backslash; decodes one escape into _scratch at length and returns the new length.
    private int AppendEscape(ReadOnlySpan<byte> json, ref int position, int length)
    {
        if (position + 1 >= json.Length)
        {
            throw Error(json, position, "unterminated escape");
        }

        var escape = json[position + 1];
        position += 2;
        byte simple = escape switch
        {
            (byte)'"' => (byte)'"',
            (byte)'\\' => (byte)'\\',
            (byte)'/' => (byte)'/',
            (byte)'b' => (byte)'\b',
            (byte)'f' => (byte)'\f',
            (byte)'n' => (byte)'\n',
            (byte)'r' => (byte)'\r',
            (byte)'t' => (byte)'\t',
            (byte)'u' => 0,
            _ => throw Error(json, position - 2, "invalid escape"),
        };
        if (escape != (byte)'u')
        {
            _scratch[length] = simple;
            return length + 1;
        }

        var codePoint = ReadHex4(json, ref position);
        if (char.IsHighSurrogate((char)codePoint))
        {
            if (position + 1 >= json.Length || json[position] != (byte)'\\' || json[position + 1] != (byte)'u')
            {
                throw Error(json, position, "unpaired surrogate escape");
            }

            position += 2;
            var low = ReadHex4(json, ref position);
            if (!char.IsLowSurrogate((char)low))
            {
                throw Error(json, position, "unpaired surrogate escape");
            }

            codePoint = char.ConvertToUtf32((char)codePoint, (char)low);
        }
        else if (char.IsLowSurrogate((char)codePoint))
        {
            throw Error(json, position, "unpaired surrogate escape");
        }

        return length + new Rune(codePoint).EncodeToUtf8(_scratch.AsSpan(length));
    }

    private static int ReadHex4(ReadOnlySpan<byte> json, ref int position)
    {
        if (position + 4 > json.Length || !int.TryParse(json.Slice(position, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value))
        {
            throw Error(json, position, "\\u needs four hex digits");
        }

        position += 4;
        return value;
    }

    private void WriteLengthPrefixedString(ReadOnlySpan<byte> json, ref int position)
    {
        var text = ReadString(json, ref position);
        AppendInt32(text.Length + 1);
        Append(text);
        Append(0);
    }

    private void WriteCString(ReadOnlySpan<byte> json, ref int position, string what)
    {
        var text = ReadString(json, ref position);
        if (text.IndexOf((byte)0) >= 0)
        {
            throw Error(json, position, $"a {what} cannot hold NUL");
        }

        Append(text);
        Append(0);
    }

    private void WriteHexBytes(ReadOnlySpan<byte> hex, int count, ReadOnlySpan<byte> json, int position)
    {
        Span<byte> bytes = stackalloc byte[count];
        DecodeHex(hex, bytes, json, position);
        Append(bytes);
    }

    // The escaped double's hex is the 64 bits as a big-endian number; BSON stores them little-endian.
    private void WriteHexBytesReversed(ReadOnlySpan<byte> hex, int count, ReadOnlySpan<byte> json, int position)
    {
        Span<byte> bytes = stackalloc byte[count];
        DecodeHex(hex, bytes, json, position);
        bytes.Reverse();
        Append(bytes);
    }

    private static void DecodeHex(ReadOnlySpan<byte> hex, Span<byte> bytes, ReadOnlySpan<byte> json, int position)
    {
        if (hex.Length != bytes.Length * 2)
        {
            throw Error(json, position, $"{bytes.Length * 2} hex digits were expected");
        }

        for (var i = 0; i < bytes.Length; i++)
        {
            var high = HexValue(hex[2 * i]);
            var low = HexValue(hex[2 * i + 1]);
            if ((high | low) < 0)
            {
                throw Error(json, position, "invalid hex digit");
            }

            bytes[i] = (byte)((high << 4) | low);
        }
    }

    private static int HexValue(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        _ => -1,
    };

    private void ExpectKey(ReadOnlySpan<byte> json, ref int position, ReadOnlySpan<byte> key)
    {
        position = SkipWhitespace(json, position);
        var at = position;
        if (!ReadString(json, ref position).SequenceEqual(key))
        {
            throw Error(json, at, $"key \"{Encoding.UTF8.GetString(key)}\" was expected");
        }

        position = SkipWhitespace(json, position);
        Expect(json, ref position, (byte)':');
    }

    private static void ExpectLiteral(ReadOnlySpan<byte> json, ref int position, ReadOnlySpan<byte> literal)
    {
        position = SkipWhitespace(json, position);
        if (!json[position..].StartsWith(literal))
        {
            throw Error(json, position, $"'{Encoding.ASCII.GetString(literal)}' was expected");
        }

        position += literal.Length;
    }

    private static void Expect(ReadOnlySpan<byte> json, ref int position, byte expected)
    {
        position = SkipWhitespace(json, position);
        if (position >= json.Length || json[position] != expected)
        {
            throw Error(json, position, $"'{(char)expected}' was expected");
        }

        position++;
    }

    private static int SkipWhitespace(ReadOnlySpan<byte> json, int position)
    {
        while (position < json.Length && json[position] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
        {
            position++;
        }

        return position;
    }

    private static FormatException Error(ReadOnlySpan<byte> json, int position, string message) =>
        new($"Not snapshot-format Extended JSON at column {Math.Min(position, json.Length) + 1}: {message}.");

    private int Reserve(int count)
    {
        EnsureCapacity(count);
        var at = _length;
        _length += count;
        return at;
    }

    private void Append(byte b)
    {
        if (_length == _buffer.Length)
        {
            EnsureCapacity(1);
        }

        _buffer[_length++] = b;
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        EnsureCapacity(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    private void AppendInt32(int value)
    {
        EnsureCapacity(4);
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(_length), value);
        _length += 4;
    }

    private void AppendInt64(long value)
    {
        EnsureCapacity(8);
        BinaryPrimitives.WriteInt64LittleEndian(_buffer.AsSpan(_length), value);
        _length += 8;
    }

    private void EnsureCapacity(int additional)
    {
        if (_buffer.Length - _length < additional)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + additional));
        }
    }

    private void EnsureScratch(int size)
    {
        if (_scratch.Length < size)
        {
            Array.Resize(ref _scratch, Math.Max(_scratch.Length * 2, size));
        }
    }
}

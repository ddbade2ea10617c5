using System.Buffers.Binary;
using System.Text;
using MongoDB.Bson;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.SnapshotFormat.Tests;

/// <summary>The snapshot line format decodes to exactly the BSON bytes it was written from, and refuses anything else.</summary>
public sealed class CanonicalJsonReaderTests
{
    private static string Write(ReadOnlySpan<byte> bson)
    {
        var writer = new CanonicalJsonWriter(16);
        writer.WriteLine(bson);
        return Encoding.UTF8.GetString(writer.Written);
    }

    private static byte[] RoundTrip(byte[] bson) => new CanonicalJsonReader(16).Decode(Encoding.UTF8.GetBytes(Write(bson))).ToArray();

    [Fact]
    public void Every_bson_type_and_every_look_alike_decodes_to_the_bytes_it_was_written_from()
    {
        var documents = BsonTestData.EveryType().Concat(BsonTestData.Lookalikes()).Concat(BsonTestData.WrapperShapes()).ToList();
        Assert.True(documents.Count > 40);
        byte[] oldBinary = [0x05, .. "binaryOld"u8, 0, 7, 0, 0, 0, 0x02, 3, 0, 0, 0, 1, 2, 3];
        Assert.Contains(documents, d => BsonTestData.ToStoredBson(d).AsSpan().IndexOf(oldBinary) >= 0);
        foreach (var document in documents)
        {
            var bson = BsonTestData.ToStoredBson(document);
            Assert.Equal(Convert.ToHexString(bson), Convert.ToHexString(RoundTrip(bson)));
        }
    }

    [Fact]
    public void Deprecated_types_round_trip_byte_for_byte()
    {
        var oid = Convert.FromHexString("56e1fc72e0c917e9c4714161");
        var bson = Raw.Document(
            (0x06, "undefined", []),
            (0x0C, "dbPointer", [.. Raw.String("db.collection"), .. oid]),
            (0x0E, "symbol", Raw.String("sym")),
            (0x0F, "codeWithScope", Raw.CodeWithScope("function () { return x; }", Raw.Document((0x10, "x", Raw.Int32(1))))),
            (0x0F, "scopeLooksLikeWrapper", Raw.CodeWithScope("f", Raw.Document((0x02, "$numberLong", Raw.String("5"))))),
            (0x0D, "code", Raw.String("plain")),
            (0x05, "old", [.. Raw.Int32(7), 0x02, .. Raw.Int32(3), 1, 2, 3]));
        Assert.Equal(Convert.ToHexString(bson), Convert.ToHexString(RoundTrip(bson)));
        var line = Write(bson);
        Assert.Contains("\"dbPointer\":{\"$dbPointer\":{\"$ref\":\"db.collection\",\"$id\":{\"$oid\":\"56e1fc72e0c917e9c4714161\"}}}", line);
        Assert.Contains("\"$scope\":{\"$teleguardDocument\":{\"$numberLong\":\"5\"}}", line);
    }

    [Fact]
    public void A_document_whose_first_field_starts_with_a_dollar_is_escaped_wherever_it_is()
    {
        var bson = Raw.Document((0x02, "$numberLong", Raw.String("5")), (0x03, "in", Raw.Document((0x10, "$minKey", Raw.Int32(1)))),
            (0x04, "list", Raw.Document((0x03, "0", Raw.Document((0x02, "$oid", Raw.String("x")))))));
        Assert.Equal(
            "{\"$teleguardDocument\":{\"$numberLong\":\"5\",\"in\":{\"$teleguardDocument\":{\"$minKey\":{\"$numberInt\":\"1\"}}},"
            + "\"list\":[{\"$teleguardDocument\":{\"$oid\":\"x\"}}]}}\n",
            Write(bson));
        Assert.Equal(Convert.ToHexString(bson), Convert.ToHexString(RoundTrip(bson)));
    }

    [Fact]
    public void A_dbref_stays_plain_extended_json_other_tools_read()
    {
        var bson = Raw.Document((0x03, "owner", Raw.Document((0x02, "$ref", Raw.String("users")), (0x10, "$id", Raw.Int32(7)), (0x02, "$db", Raw.String("app")))),
            (0x03, "odd", Raw.Document((0x10, "$ref", Raw.Int32(1)), (0x02, "$numberLong", Raw.String("5")))));
        Assert.Equal("{\"owner\":{\"$ref\":\"users\",\"$id\":{\"$numberInt\":\"7\"},\"$db\":\"app\"},\"odd\":{\"$ref\":{\"$numberInt\":\"1\"},\"$numberLong\":\"5\"}}\n", Write(bson));
        Assert.Equal(Convert.ToHexString(bson), Convert.ToHexString(RoundTrip(bson)));
    }

    [Fact]
    public void Nan_keeps_its_bits_and_canonical_nan_means_the_quiet_positive_nan()
    {
        foreach (var bits in new[] { 0x7FF8000000000000, unchecked((long)0xFFF8000000000000), 0x7FF8000000000012, 0x7FF0000000000001 })
        {
            var bson = Raw.Document((0x01, "d", Raw.Int64(bits)));
            Assert.Equal(Convert.ToHexString(bson), Convert.ToHexString(RoundTrip(bson)));
        }

        Assert.Equal("{\"d\":{\"$numberDouble\":\"NaN\"}}\n", Write(Raw.Document((0x01, "d", Raw.Int64(0x7FF8000000000000)))));
        Assert.Equal("{\"d\":{\"$teleguardDouble\":\"fff8000000000000\"}}\n", Write(Raw.Document((0x01, "d", Raw.Int64(unchecked((long)0xFFF8000000000000))))));
        var decoded = new CanonicalJsonReader().Decode("{\"d\":{\"$numberDouble\":\"NaN\"}}"u8);
        Assert.Equal(0x7FF8000000000000, BinaryPrimitives.ReadInt64LittleEndian(decoded[^9..^1]));
    }

    [Fact]
    public void Decimal128_values_whose_text_would_change_their_bits_are_escaped()
    {
        var nonCanonicalZero = Raw.Document((0x13, "m", Raw.Decimal(0x6C10000000000000, 0)));
        Assert.Equal("{\"m\":{\"$teleguardDecimal128\":\"6c100000000000000000000000000000\"}}\n", Write(nonCanonicalZero));
        Assert.Equal(Convert.ToHexString(nonCanonicalZero), Convert.ToHexString(RoundTrip(nonCanonicalZero)));
        var ordinary = Raw.Document((0x13, "m", Raw.Decimal(Decimal128.Parse("1234.5600"))));
        Assert.Equal("{\"m\":{\"$numberDecimal\":\"1234.5600\"}}\n", Write(ordinary));
    }

    [Theory]
    [InlineData("{\"a\":{\"$numberLong\":\"5\",\"x\":1}}", "canonical keys")]
    [InlineData("{\"a\":{\"$regex\":\"a\",\"$options\":\"i\"}}", "unknown type wrapper \"$regex\"")]
    [InlineData("{\"a\":{\"$uuid\":\"73ffd264-44b3-4c69-90e8-e7d1dfc035d4\"}}", "unknown type wrapper \"$uuid\"")]
    [InlineData("{\"a\":{\"$date\":\"2020-01-01T00:00:00Z\"}}", "'{' was expected")]
    [InlineData("{\"a\":1}", "no bare numbers")]
    [InlineData("{\"a\":{\"$numberInt\":\"+5\"}}", "canonical 32-bit")]
    [InlineData("{\"a\":{\"$numberInt\":\"05\"}}", "canonical 32-bit")]
    [InlineData("{\"a\":{\"$numberInt\":\"2147483648\"}}", "canonical 32-bit")]
    [InlineData("{\"a\":{\"$numberDouble\":\"1e400\"}}", "not a number")]
    [InlineData("{\"a\":{\"$oid\":\"0123\"}}", "24 hex digits")]
    [InlineData("{\"a\":{\"$binary\":{\"base64\":\"AQI\",\"subType\":\"00\"}}}", "padded")]
    [InlineData("{\"a\\u0000b\":true}", "cannot hold NUL")]
    [InlineData("{\"a\":\"\\ud800\"}", "unpaired surrogate")]
    [InlineData("{\"a\":true} x", "trailing characters")]
    [InlineData("{\"a\":tru", "'true' was expected")]
    [InlineData("{\"a\":\"unterminated", "unterminated string")]
    [InlineData("{\"$numberLong\":\"5\"}", "not a document")]
    [InlineData("[1]", "a document (JSON object) was expected")]
    [InlineData("{\"a\":\"tab\there\"}", "unescaped control character")]
    public void Anything_the_writer_never_produces_is_refused_saying_what(string line, string reason)
    {
        var error = Assert.Throws<FormatException>(() => new CanonicalJsonReader().Decode(Encoding.UTF8.GetBytes(line)));
        Assert.Contains(reason, error.Message);
    }

    [Fact]
    public void Nesting_beyond_the_limit_is_refused_without_exhausting_the_stack()
    {
        var line = string.Concat(Enumerable.Repeat("{\"a\":", 5000)) + "null" + new string('}', 5000);
        var error = Assert.Throws<FormatException>(() => new CanonicalJsonReader().Decode(Encoding.UTF8.GetBytes(line)));
        Assert.Contains("nested deeper", error.Message);
    }

    [Fact]
    public void A_chain_of_code_with_scope_beyond_the_limit_is_refused_without_exhausting_the_stack()
    {
        var line = "{\"a\":" + string.Concat(Enumerable.Repeat("{\"$code\":\"\",\"$scope\":", 5000)) + "{}" + new string('}', 5001);
        var error = Assert.Throws<FormatException>(() => new CanonicalJsonReader().Decode(Encoding.UTF8.GetBytes(line)));
        Assert.Contains("nested deeper", error.Message);
    }

    [Fact]
    public void An_array_whose_keys_are_not_its_indexes_keeps_its_keys()
    {
        var array = Raw.Document((0x02, "1", Raw.String("x")), (0x02, "0", Raw.String("y")), (0x10, "$k", Raw.Int32(3)));
        var bson = Raw.Document((0x10, "_id", Raw.Int32(1)), (0x04, "a", array), (0x04, "ok", Raw.Document((0x10, "0", Raw.Int32(5)))));
        Assert.Equal("{\"_id\":{\"$numberInt\":\"1\"},\"a\":{\"$teleguardArray\":{\"1\":\"x\",\"0\":\"y\",\"$k\":{\"$numberInt\":\"3\"}}},"
            + "\"ok\":[{\"$numberInt\":\"5\"}]}\n", Write(bson));
        Assert.Equal(Convert.ToHexString(bson), Convert.ToHexString(RoundTrip(bson)));
    }

    [Fact]
    public void Hostile_text_in_a_line_reaches_error_messages_escaped()
    {
        var error = Assert.Throws<FormatException>(() => new CanonicalJsonReader().Decode("{\"a\":{\"$\u001b[31mRED\nline\":1}}"u8));
        Assert.DoesNotContain('\u001b', error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Bytes_that_are_not_bson_are_refused_by_the_writer()
    {
        var writer = new CanonicalJsonWriter();
        var error = Assert.Throws<FormatException>(() => writer.WriteLine(Raw.Document((0x08, "flag", [2]))));
        Assert.Contains("boolean byte 0x02", error.Message);
        Assert.Throws<FormatException>(() => writer.WriteLine(Raw.Document((0x05, "old", [.. Raw.Int32(7), 0x02, .. Raw.Int32(4), 1, 2, 3]))));
        Assert.Throws<FormatException>(() => writer.WriteLine(Raw.Document((0x02, "bad", [.. Raw.Int32(2), 0xC3, 0]))));
        // Truncated values (the specification corpus's decode errors): a binary longer than its document, a negative
        // binary length, a date and an ObjectId cut short.
        Assert.Throws<FormatException>(() => writer.WriteLine(Convert.FromHexString("1D000000057800FF0000000573FFD26444B34C6990E8E7D1DFC035D400")));
        Assert.Throws<FormatException>(() => writer.WriteLine(Convert.FromHexString("0D000000057800FFFFFFFF0000")));
        Assert.Throws<FormatException>(() => writer.WriteLine(Convert.FromHexString("0C0000000961001234567800")));
        Assert.Throws<FormatException>(() => writer.WriteLine(Convert.FromHexString("160000000C61000300000061620056E1FC72E0C91700")));
    }

    /// <summary>Builds BSON by hand, for values <see cref="BsonDocument"/> cannot hold as they are.</summary>
    private static class Raw
    {
        public static byte[] Document(params (byte Type, string Name, byte[] Value)[] elements)
        {
            var body = elements.SelectMany(e => new[] { e.Type }.Concat(Encoding.UTF8.GetBytes(e.Name)).Append((byte)0).Concat(e.Value)).ToArray();
            return [.. Int32(body.Length + 5), .. body, 0];
        }

        public static byte[] Int32(int value)
        {
            var bytes = new byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
            return bytes;
        }

        public static byte[] Int64(long value)
        {
            var bytes = new byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
            return bytes;
        }

        public static byte[] String(string text)
        {
            var utf8 = Encoding.UTF8.GetBytes(text);
            return [.. Int32(utf8.Length + 1), .. utf8, 0];
        }

        public static byte[] CodeWithScope(string code, byte[] scope)
        {
            var inner = String(code).Concat(scope).ToArray();
            return [.. Int32(inner.Length + 4), .. inner];
        }

        public static byte[] Decimal(Decimal128 value) => Decimal(value.GetIEEEHighBits(), value.GetIEEELowBits());

        public static byte[] Decimal(ulong high, ulong low) => [.. Int64((long)low), .. Int64((long)high)];
    }
}

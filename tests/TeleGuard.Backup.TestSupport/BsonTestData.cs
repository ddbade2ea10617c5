using MongoDB.Bson;

namespace TeleGuard.Backup.TestSupport;

/// <summary>Documents holding every BSON type the snapshot format must keep, each with an ObjectId _id.</summary>
public static class BsonTestData
{
    public static List<BsonDocument> EveryType(bool includeLargeDocument = true)
    {
        var documents = new List<BsonDocument>
        {
            new()
            {
                { "_id", ObjectId.Parse("64b7f0000000000000000001") },
                { "objectId", ObjectId.Parse("5f1e2d3c4b5a697887766554") },
                { "decimal", Decimal128.Parse("1234.5600") },
                { "decimalNegativeZero", Decimal128.Parse("-0.00") },
                { "decimalHuge", Decimal128.Parse("9.999999999999999999999999999999999E+6144") },
                { "int32", 42 },
                { "int32Min", int.MinValue },
                { "int64", 42L },
                { "int64Max", long.MaxValue },
                { "double", 1.0 },
                { "doubleFraction", 0.1 },
                { "doubleLarge", 1.2345678921232E+18 },
                { "doubleSmall", 5e-324 },
                { "nan", double.NaN },
                { "positiveInfinity", double.PositiveInfinity },
                { "negativeInfinity", double.NegativeInfinity },
                { "negativeZero", new BsonDouble(-0.0) }, // the constructor: BsonValue's implicit conversion caches 0.0 and loses the sign
                { "true", true },
                { "false", false },
                { "null", BsonNull.Value },
            },
            new()
            {
                { "_id", ObjectId.Parse("64b7f0000000000000000002") },
                { "before1970", new BsonDateTime(new DateTime(1901, 12, 13, 20, 45, 52, DateTimeKind.Utc)) },
                { "epochMinusOne", new BsonDateTime(-1) },
                { "after2038", new BsonDateTime(new DateTime(2100, 1, 19, 3, 14, 8, 123, DateTimeKind.Utc)) },
                { "binaryGeneric", new BsonBinaryData([0, 1, 2, 253, 254, 255], BsonBinarySubType.Binary) },
                { "binaryEmpty", new BsonBinaryData([], BsonBinarySubType.Binary) },
                { "uuidLegacy", new BsonBinaryData(Enumerable.Range(0, 16).Select(i => (byte)i).ToArray(), BsonBinarySubType.UuidLegacy) },
                { "uuid", new BsonBinaryData(Guid.Parse("00112233-4455-6677-8899-aabbccddeeff"), GuidRepresentation.Standard) },
                { "regex", new BsonRegularExpression("^a.*\"b\\\\c$", "imsx") },
                { "timestamp", new BsonTimestamp(1700000000, 7) },
                { "timestampMax", new BsonTimestamp(unchecked((int)uint.MaxValue), unchecked((int)uint.MaxValue)) },
                { "minKey", BsonMinKey.Value },
                { "maxKey", BsonMaxKey.Value },
                { "code", new BsonJavaScript("function () { return 1; }") },
            },
            new()
            {
                { "_id", ObjectId.Parse("64b7f0000000000000000003") },
                { "nested", new BsonDocument { { "a", new BsonArray { 1, 2L, new BsonArray { "x", new BsonDocument("deep", new BsonArray()) } } }, { "empty", new BsonDocument() } } },
                { "emptyDocument", new BsonDocument() },
                { "emptyArray", new BsonArray() },
                { "unicode", "héllo wörld — 日本語 — 😀𝄞 (astral)" },
                { "controlChars", "tab\tnewline\nquote\"backslash\\nul\0bell\u0007del\u007f" },
                { "lineSeparators", "\u2028\u2029" },
                { "field.with.dots", "dots" },
                { "nestedDollar", new BsonDocument { { "$price", 10 }, { "a.b", new BsonDocument("$c", "d") } } },
                { "$topLevelDollar", "allowed since MongoDB 5.0" },
            },
            new() { { "_id", ObjectId.Parse("64b7f0000000000000000004") } },
            new() { { "_id", 7 }, { "kind", "int32 _id" } },
            new() { { "_id", 7L << 40 }, { "kind", "int64 _id" } },
            new() { { "_id", "string-id" }, { "kind", "string _id" } },
            new() { { "_id", new BsonDocument { { "tenant", 1 }, { "user", "x" } } }, { "kind", "document _id" } },
        };

        if (includeLargeDocument)
        {
            // About 15 MB: below MongoDB's 16 MiB document limit, above any single write buffer.
            documents.Add(new BsonDocument
            {
                { "_id", ObjectId.Parse("64b7f00000000000000000ff") },
                { "payload", new string('x', 10 * 1024 * 1024) },
                { "blob", new BsonBinaryData(Enumerable.Range(0, 5 * 1024 * 1024).Select(i => (byte)(i * 31)).ToArray()) },
            });
        }

        return documents;
    }

    /// <summary>
    /// Documents MongoDB (5.0 and later) stores that look like Extended JSON type wrappers or hold values canonical
    /// Extended JSON cannot carry: every wrapper shape as a field's value, nested two deep and in arrays; odd field names;
    /// NaN doubles and Decimal128 values with signs and payloads, non-canonical Decimal128 zeros and binary subtype 2.
    /// All of it is accepted by the MongoDB stand-in, so it can travel through a whole backup and restore.
    /// </summary>
    public static List<BsonDocument> Lookalikes()
    {
        var wrappers = WrapperShapes();
        var documents = new List<BsonDocument>();
        var id = 1;
        foreach (var shape in wrappers)
        {
            documents.Add(new BsonDocument
            {
                { "_id", id++ },
                { "field", shape.DeepClone() },
                { "nested", new BsonDocument("two", new BsonDocument("deep", shape.DeepClone())) },
                { "array", new BsonArray { 1, shape.DeepClone(), new BsonArray { shape.DeepClone() } } },
            });
        }

        documents.Add(new BsonDocument
        {
            { "_id", id++ },
            { "", "empty name" },
            { ".", "a dot" },
            { "a.b", "dotted" },
            { "$", "a dollar" },
            { "$$", "two dollars" },
            { "​́￿😀", "odd unicode" },
            { "sub", new BsonDocument { { "", 1 }, { "$", 2 }, { "a.b.c", 3 } } },
        });
        documents.Add(new BsonDocument
        {
            { "_id", id++ },
            { "nanCanonical", new BsonDouble(BitConverter.Int64BitsToDouble(0x7FF8000000000000)) },
            { "nanNegative", new BsonDouble(BitConverter.Int64BitsToDouble(unchecked((long)0xFFF8000000000000))) },
            { "nanPayload", new BsonDouble(BitConverter.Int64BitsToDouble(0x7FF8000000000012)) },
            { "nanSignaling", new BsonDouble(BitConverter.Int64BitsToDouble(0x7FF0000000000001)) },
            { "negativeZero", new BsonDouble(-0.0) },
            { "decimalNaN", Decimal128.FromIEEEBits(0x7C00000000000000, 0) },
            { "decimalNegativeNaN", Decimal128.FromIEEEBits(0xFC00000000000000, 0) },
            { "decimalSignalingNaN", Decimal128.FromIEEEBits(0x7E00000000000000, 0) },
            { "decimalNaNPayload", Decimal128.FromIEEEBits(0x7C00000000000000, 12) },
            { "decimalInfinityPayload", Decimal128.FromIEEEBits(0x7800000000000000, 1) },
            { "decimalNonCanonicalZero", Decimal128.FromIEEEBits(0x6C10000000000000, 0) },
            { "decimalNonCanonicalNegative", Decimal128.FromIEEEBits(0xEC10000000000000, 5) },
            { "binaryOld", new BsonBinaryData([1, 2, 3], (BsonBinarySubType)0x02) },
        });
        return documents;
    }

    /// <summary>The bytes of a document as the driver received them.</summary>
    public static byte[] Bytes(RawBsonDocument document)
    {
        var bytes = new byte[document.Slice.Length];
        document.Slice.GetBytes(0, bytes, 0, bytes.Length);
        return bytes;
    }

    /// <summary>A document's BSON as stored, binary subtype 2 included (the driver's default rewrites it to subtype 0).</summary>
    public static byte[] ToStoredBson(BsonDocument document) =>
        document.ToBson(writerSettings: new MongoDB.Bson.IO.BsonBinaryWriterSettings { FixOldBinarySubTypeOnOutput = false });

    /// <summary>Every Extended JSON type wrapper (canonical, relaxed and legacy) as a stored sub-document, and the format's own escapes.</summary>
    public static List<BsonDocument> WrapperShapes() =>
    [
        new() { { "$regex", "a" }, { "$options", "i" } },
        new("$numberLong", "5"),
        new("$numberInt", "5"),
        new("$numberDouble", "1.0"),
        new("$numberDecimal", "1.10"),
        new("$date", "tomorrow"),
        new("$date", new BsonDocument("$numberLong", "0")),
        new("$oid", "x"),
        new("$uuid", "73ffd264-44b3-4c69-90e8-e7d1dfc035d4"),
        new("$binary", new BsonDocument { { "base64", "AQID" }, { "subType", "00" } }),
        new() { { "$binary", "AQID" }, { "$type", "00" } },
        new("$timestamp", new BsonDocument { { "t", 1 }, { "i", 2 } }),
        new("$code", "function () {}"),
        new() { { "$code", "x" }, { "$scope", new BsonDocument("$numberInt", "1") } },
        new("$symbol", "s"),
        new("$minKey", 1),
        new("$maxKey", 1),
        new("$undefined", true),
        new("$regularExpression", new BsonDocument { { "pattern", "a" }, { "options", "" } }),
        new("$dbPointer", new BsonDocument { { "$ref", "c" }, { "$id", new BsonDocument("$oid", "56e1fc72e0c917e9c4714161") } }),
        new() { { "$ref", "collection" }, { "$id", 1 }, { "$db", "db" } },
        new("$type", "string"),
        new("$teleguardDocument", new BsonDocument("$numberLong", "5")),
        new("$teleguardDouble", "7ff8000000000001"),
        new("$teleguardDecimal128", "7c000000000000000000000000000000"),
        new() { { "$numberLong", "5" }, { "extra", 1 } },
        new("$", "just a dollar"),
    ];

    /// <summary>
    /// The driver's JSON reader turns -0.0 into 0.0 (BsonDouble.Create caches zero), so a document parsed with it can
    /// only be compared with a source whose -0.0 became 0.0. The snapshot text itself keeps "-0.0" (tested separately).
    /// </summary>
    public static BsonDocument WithoutNegativeZero(BsonDocument document)
    {
        var copy = new BsonDocument();
        foreach (var element in document)
        {
            copy.Add(element.Name, WithoutNegativeZero(element.Value));
        }

        return copy;
    }

    private static BsonValue WithoutNegativeZero(BsonValue value) => value switch
    {
        BsonDouble d when d.Value == 0 && double.IsNegative(d.Value) => new BsonDouble(0.0),
        BsonDocument d => WithoutNegativeZero(d),
        BsonArray a => new BsonArray(a.Select(WithoutNegativeZero)),
        _ => value,
    };

    /// <summary>Parses one canonical JSON line with the driver's own Extended JSON reader, into BSON bytes.</summary>
    public static byte[] ParseLineWithDriver(string line)
    {
        using var reader = new MongoDB.Bson.IO.JsonReader(line);
        using var raw = MongoDB.Bson.Serialization.BsonSerializer.Deserialize<RawBsonDocument>(reader);
        var bytes = new byte[raw.Slice.Length];
        raw.Slice.GetBytes(0, bytes, 0, bytes.Length);
        return bytes;
    }
}

using System.Text;
using MongoDB.Bson;
using MongoDB.Bson.IO;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.SnapshotFormat.Tests;

public sealed class CanonicalJsonWriterTests
{
    private static byte[] ParseToBsonWithDriver(string json) => BsonTestData.ParseLineWithDriver(json);

    private static string Write(BsonDocument document)
    {
        var writer = new CanonicalJsonWriter(16);
        writer.WriteLine(document.ToBson());
        return Encoding.UTF8.GetString(writer.Written);
    }

    // Documents that need none of the snapshot format's escapes are plain canonical Extended JSON any reader takes.
    private static IEnumerable<BsonDocument> WithoutEscapes(bool includeLargeDocument = true) =>
        BsonTestData.EveryType(includeLargeDocument).Where(d => !d.Contains("nestedDollar") && !d.Contains("nan"));

    [Fact]
    public void Every_bson_type_that_needs_no_escape_parses_back_with_the_driver_to_the_same_bytes()
    {
        foreach (var document in WithoutEscapes())
        {
            var line = Write(document);
            Assert.EndsWith("\n", line);
            Assert.DoesNotContain('\n', line[..^1]);
            Assert.Equal(BsonTestData.WithoutNegativeZero(document).ToBson(), ParseToBsonWithDriver(line));
        }
    }

    [Fact]
    public void Negative_zero_keeps_its_sign()
    {
        var line = Write(new BsonDocument("d", new BsonDouble(-0.0)));
        Assert.Equal("{\"d\":{\"$numberDouble\":\"-0.0\"}}\n", line);
    }

    [Fact]
    public void The_driver_json_reader_itself_turns_negative_zero_into_zero()
    {
        // Documents a limitation of MongoDB.Driver 3.14, not of the format: its JsonReader stores doubles through
        // BsonDouble.Create, whose cache returns +0.0 for -0.0. Restores must not rely on it for -0.0.
        var bytes = ParseToBsonWithDriver("{\"d\":{\"$numberDouble\":\"-0.0\"}}");
        Assert.Equal(new BsonDocument("d", new BsonDouble(0.0)).ToBson(), bytes);
    }

    [Fact]
    public void Output_is_compact_canonical_extended_json()
    {
        var document = new BsonDocument
        {
            { "_id", ObjectId.Parse("5f1e2d3c4b5a697887766554") },
            { "i", 1 },
            { "l", 2L },
            { "d", 1.5 },
            { "whole", 3.0 },
            { "m", Decimal128.Parse("1.10") },
            { "t", new BsonDateTime(0) },
            { "b", new BsonBinaryData([1, 2, 3], BsonBinarySubType.UserDefined) },
            { "r", new BsonRegularExpression("a/b", "i") },
            { "ts", new BsonTimestamp(5, 6) },
            { "s", "é\"" },
            { "a", new BsonArray { true, BsonNull.Value, BsonMinKey.Value, BsonMaxKey.Value } },
        };

        Assert.Equal(
            "{\"_id\":{\"$oid\":\"5f1e2d3c4b5a697887766554\"},\"i\":{\"$numberInt\":\"1\"},\"l\":{\"$numberLong\":\"2\"},"
            + "\"d\":{\"$numberDouble\":\"1.5\"},\"whole\":{\"$numberDouble\":\"3.0\"},\"m\":{\"$numberDecimal\":\"1.10\"},"
            + "\"t\":{\"$date\":{\"$numberLong\":\"0\"}},\"b\":{\"$binary\":{\"base64\":\"AQID\",\"subType\":\"80\"}},"
            + "\"r\":{\"$regularExpression\":{\"pattern\":\"a/b\",\"options\":\"i\"}},\"ts\":{\"$timestamp\":{\"t\":5,\"i\":6}},"
            + "\"s\":\"é\\\"\",\"a\":[true,null,{\"$minKey\":1},{\"$maxKey\":1}]}\n",
            Write(document));
    }

    [Fact]
    public void Output_is_identical_to_the_driver_canonical_writer_apart_from_whitespace_for_ordinary_values()
    {
        // The driver loses the sign of -0.0; everything else must agree value for value.
        foreach (var document in WithoutEscapes(includeLargeDocument: false))
        {
            var ours = System.Text.Json.Nodes.JsonNode.Parse(Write(document));
            var driver = System.Text.Json.Nodes.JsonNode.Parse(document.ToJson(new JsonWriterSettings { OutputMode = JsonOutputMode.CanonicalExtendedJson }));
            Normalize(ours!);
            Normalize(driver!);
            Assert.Equal(driver!.ToJsonString(), ours!.ToJsonString());
        }
    }

    // Doubles may be spelled differently but must denote the same value; the one known driver bug (-0.0) is aligned.
    private static void Normalize(System.Text.Json.Nodes.JsonNode node)
    {
        if (node is System.Text.Json.Nodes.JsonObject obj)
        {
            if (obj.Count == 1 && obj["$numberDouble"] is { } text)
            {
                var value = double.Parse(text.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
                obj["$numberDouble"] = value == 0 ? "0" : value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
                return;
            }

            foreach (var (_, child) in obj.ToList())
            {
                if (child is not null)
                {
                    Normalize(child);
                }
            }
        }
        else if (node is System.Text.Json.Nodes.JsonArray array)
        {
            foreach (var child in array)
            {
                if (child is not null)
                {
                    Normalize(child);
                }
            }
        }
    }

    [Fact]
    public void Invalid_utf8_in_a_string_is_rejected_not_written()
    {
        var bytes = new BsonDocument("s", "ab").ToBson();
        var index = Array.IndexOf(bytes, (byte)'a');
        bytes[index] = 0xC3; // a lead byte followed by 'b': not UTF-8
        var writer = new CanonicalJsonWriter();
        Assert.Throws<FormatException>(() => writer.WriteLine(bytes));
    }

    [Fact]
    public void Truncated_or_inconsistent_bson_is_rejected()
    {
        var bytes = new BsonDocument { { "a", 1 }, { "b", "text" } }.ToBson();
        var writer = new CanonicalJsonWriter();
        var truncated = Assert.Throws<FormatException>(() => writer.WriteLine(bytes.AsSpan(0, bytes.Length - 3)));
        Assert.StartsWith("Invalid BSON document size", truncated.Message);
        var wrongLength = (byte[])bytes.Clone();
        wrongLength[0] += 4;
        var inconsistent = Assert.Throws<FormatException>(() => writer.WriteLine(wrongLength));
        Assert.StartsWith("Invalid BSON document size", inconsistent.Message);
    }
}

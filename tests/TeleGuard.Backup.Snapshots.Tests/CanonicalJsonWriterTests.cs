using System.Text;
using MongoDB.Bson;
using MongoDB.Bson.IO;
using MongoDB.Bson.Serialization;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Snapshots.Tests;

public sealed class CanonicalJsonWriterTests
{
    private static byte[] ParseToBsonWithDriver(string json) => BsonTestData.ParseLineWithDriver(json);

    private static string Write(BsonDocument document)
    {
        var writer = new CanonicalJsonWriter(16);
        writer.WriteLine(document.ToBson());
        return Encoding.UTF8.GetString(writer.Written);
    }

    [Fact]
    public void Every_bson_type_parses_back_with_the_driver_to_the_same_bytes()
    {
        foreach (var document in BsonTestData.EveryType())
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
        Assert.ThrowsAny<Exception>(() => writer.WriteLine(bytes.AsSpan(0, bytes.Length - 3)));
        var wrongLength = (byte[])bytes.Clone();
        wrongLength[0] += 4;
        Assert.ThrowsAny<Exception>(() => writer.WriteLine(wrongLength));
    }
}

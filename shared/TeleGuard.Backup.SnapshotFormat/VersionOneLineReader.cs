using System.Text;
using System.Text.Json;
using MongoDB.Bson;
using MongoDB.Bson.IO;
using MongoDB.Bson.Serialization;

namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>
/// Reads a line of a format version 1 snapshot, which had no escapes, the way version 1 restores did: with the driver's
/// Extended JSON reader (so look-alike documents come back as the values they look like, as they always did), then
/// restores the sign of -0.0 that reader loses. Version 2 lines go through <see cref="CanonicalJsonReader"/>.
/// </summary>
public static class VersionOneLineReader
{
    private static readonly byte[] NegativeZero = "\"$numberDouble\":\"-0.0\""u8.ToArray();

    /// <summary>The line's document as BSON.</summary>
    public static byte[] Decode(ReadOnlySpan<byte> line)
    {
        try
        {
            return ReadDocument(line).ToBson();
        }
        catch (Exception e) when (e is not FormatException and not OutOfMemoryException)
        {
            throw new FormatException($"Not a version 1 snapshot line: {e.Message}", e);
        }
    }

    private static BsonDocument ReadDocument(ReadOnlySpan<byte> line)
    {
        var text = Encoding.UTF8.GetString(line);
        BsonDocument document;
        using (var reader = new JsonReader(text))
        {
            document = BsonSerializer.Deserialize<BsonDocument>(reader);
            if (!reader.IsAtEndOfFile())
            {
                throw new FormatException("Trailing data after the JSON document.");
            }
        }

        if (line.IndexOf(NegativeZero) >= 0)
        {
            using var json = JsonDocument.Parse(line.ToArray());
            RestoreNegativeZero(json.RootElement, document);
        }

        return document;
    }

    private static BsonValue RestoreNegativeZero(JsonElement json, BsonValue value)
    {
        switch (value)
        {
            case BsonDouble d when d.Value == 0 && json.ValueKind == JsonValueKind.Object
                                   && json.TryGetProperty("$numberDouble", out var text) && text.GetString() == "-0.0":
                return new BsonDouble(-0.0);
            case BsonDocument document when json.ValueKind == JsonValueKind.Object:
                var index = 0;
                foreach (var property in json.EnumerateObject())
                {
                    if (index >= document.ElementCount)
                    {
                        break;
                    }

                    document[index] = RestoreNegativeZero(property.Value, document[index]);
                    index++;
                }

                return document;
            case BsonArray array when json.ValueKind == JsonValueKind.Array:
                var i = 0;
                foreach (var item in json.EnumerateArray())
                {
                    array[i] = RestoreNegativeZero(item, array[i]);
                    i++;
                }

                return array;
            default:
                return value;
        }
    }
}

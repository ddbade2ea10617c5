using System.Text;
using System.Text.Json;
using MongoDB.Bson;
using MongoDB.Bson.IO;
using MongoDB.Bson.Serialization;

namespace TeleGuard.Backup.Snapshots;

/// <summary>
/// Reads one canonical Extended JSON line back into a <see cref="BsonDocument"/> with the driver's own reader, then
/// restores what that reader loses: the sign of -0.0 (its <c>BsonDouble.Create</c> caches zero). The JSON text is
/// walked alongside the document (canonical output keeps field order), only when a line holds a negative zero.
/// </summary>
public static class CanonicalJsonReader
{
    private static readonly byte[] NegativeZero = "\"$numberDouble\":\"-0.0\""u8.ToArray();

    public static BsonDocument ReadDocument(ReadOnlySpan<byte> line)
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

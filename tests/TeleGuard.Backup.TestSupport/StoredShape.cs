using MongoDB.Bson;
using MongoDB.Bson.IO;
using TeleGuard.Backup.Storage;
using Xunit;

namespace TeleGuard.Backup.TestSupport;

/// <summary>
/// Reads a document of a sink record as backups_meta holds it into a destination's type and writes it back, asserting
/// that nothing changed: the same elements, in the same order, with the same BSON types.
/// </summary>
public static class StoredShape
{
    private static readonly JsonWriterSettings Canonical = new() { OutputMode = JsonOutputMode.CanonicalExtendedJson };

    /// <returns>The location, read as <typeparamref name="T"/>.</returns>
    public static T RoundTripLocation<T>(BsonDocument stored) where T : SinkLocation
    {
        var location = new SinkRecord { LocationDocument = stored }.LocationAs<T>()!;
        AssertSame(stored, location.ToBsonDocument());
        return location;
    }

    /// <returns>The removal, read as <typeparamref name="T"/>.</returns>
    public static T RoundTripRemoval<T>(BsonDocument stored) where T : SinkRemoval
    {
        var removal = new SinkRecord { RemovalDocument = stored }.RemovalAs<T>()!;
        AssertSame(stored, removal.ToBsonDocument());
        return removal;
    }

    /// <summary>
    /// Compared as canonical extended JSON: an Int32 and an Int64 of the same value differ (<c>$numberInt</c>,
    /// <c>$numberLong</c>), and a failure shows both documents.
    /// </summary>
    public static void AssertSame(BsonDocument expected, BsonDocument actual) =>
        Assert.Equal(expected.ToJson(Canonical), actual.ToJson(Canonical));

    /// <summary>
    /// The same elements with the same BSON types, in any order: elements a newer version wrote are kept on a rewrite,
    /// but written before the type's own.
    /// </summary>
    public static void AssertSameElements(BsonDocument expected, BsonDocument actual) =>
        AssertSame(new BsonDocument(expected.OrderBy(e => e.Name, StringComparer.Ordinal)), new BsonDocument(actual.OrderBy(e => e.Name, StringComparer.Ordinal)));
}

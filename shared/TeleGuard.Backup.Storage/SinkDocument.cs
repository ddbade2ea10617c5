using MongoDB.Bson;
using MongoDB.Bson.Serialization;
using MongoDB.Bson.Serialization.Attributes;

namespace TeleGuard.Backup.Storage;

/// <summary>
/// A document a destination keeps on its sink record in backups_meta (<see cref="SinkLocation"/>, <see cref="SinkRemoval"/>).
/// Its type belongs to the destination that writes it; this store keeps it as a plain document. It is stored without a
/// type discriminator (the shape is the destination's, not .NET's). Top-level elements this version does not know (a
/// newer version wrote them) are kept when the same object is written back; a destination that builds a new location
/// (Telegram's uploader does, per step) and nested types that ignore unknown elements do not carry them over.
/// </summary>
public abstract class SinkDocument
{
    /// <summary>Elements of the stored document that this type does not name.</summary>
    [BsonExtraElements] public BsonDocument? OtherElements { get; set; }

    /// <summary>The document as stored: serialised as its own type, so that no <c>_t</c> discriminator is added.</summary>
    public BsonDocument ToBsonDocument() => BsonExtensionMethods.ToBsonDocument(this, GetType());

    /// <summary>Its JSON text (as logged).</summary>
    public override string ToString() => ToBsonDocument().ToString();

    /// <summary>The stored <paramref name="document"/> read as <typeparamref name="T"/>; null when there is none.</summary>
    /// <exception cref="FormatException">The document does not have the shape of <typeparamref name="T"/>.</exception>
    internal static T? Read<T>(BsonDocument? document) where T : SinkDocument =>
        document is null ? null : BsonSerializer.Deserialize<T>(document);
}

using MongoDB.Bson;

namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>
/// The snapshot format's escapes for what canonical Extended JSON cannot carry (docs/snapshot-format.md, "Escapes"):
/// <list type="bullet">
/// <item><c>{"$teleguardDocument":{…}}</c>: a document whose first field name starts with <c>$</c>; the inner object's
/// own keys are field names, never type wrappers.</item>
/// <item><c>{"$teleguardArray":{…}}</c>: an array whose keys are not <c>0</c>, <c>1</c>, <c>2</c>…, its keys kept as the
/// object's keys (literally, like <c>$teleguardDocument</c>'s).</item>
/// <item><c>{"$teleguardDouble":"&lt;16 hex&gt;"}</c>: a NaN double other than <c>0x7FF8000000000000</c>, as its 64 bits.</item>
/// <item><c>{"$teleguardDecimal128":"&lt;32 hex&gt;"}</c>: a Decimal128 whose canonical text reads back as other bits (NaN
/// signs and payloads, non-canonical encodings), as its 128 bits, high 64 bits first.</item>
/// </list>
/// </summary>
public static class SnapshotEscapes
{
    public const string DocumentKey = "$teleguardDocument";
    public const string ArrayKey = "$teleguardArray";
    public const string DoubleKey = "$teleguardDouble";
    public const string Decimal128Key = "$teleguardDecimal128";

    /// <summary>The NaN that canonical <c>"NaN"</c> stands for (MongoDB's and most drivers' quiet NaN).</summary>
    public const long CanonicalNaNBits = 0x7FF8000000000000;

    internal static ReadOnlySpan<byte> DocumentPrefix => "{\"$teleguardDocument\":"u8;
    internal static ReadOnlySpan<byte> ArrayPrefix => "{\"$teleguardArray\":"u8;
    internal static ReadOnlySpan<byte> DoublePrefix => "{\"$teleguardDouble\":\""u8;
    internal static ReadOnlySpan<byte> Decimal128Prefix => "{\"$teleguardDecimal128\":\""u8;

    /// <summary>Whether <paramref name="text"/> (the driver's text of these bits) parses back to exactly these bits.</summary>
    public static bool Decimal128RoundTrips(string text, ulong high, ulong low) =>
        Decimal128.TryParse(text, out var parsed)
        && parsed.GetIEEEHighBits() == high
        && parsed.GetIEEELowBits() == low;
}

using System.Globalization;
using MongoDB.Bson;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Recording;

/// <summary>
/// The cluster time inside a change stream resume token. MongoDB encodes <c>_data</c> as a hex KeyString whose first
/// value is the event's (or the high-water mark's) timestamp: type byte <c>0x82</c>, then seconds and ordinal as two
/// big-endian 32-bit numbers.
/// </summary>
public static class ResumeTokenTime
{
    public static ClusterTimestamp? TryRead(BsonDocument? token)
    {
        if (token is null || !token.TryGetValue("_data", out var data) || !data.IsString)
        {
            return null;
        }

        var hex = data.AsString;
        if (hex.Length < 18 || !hex.StartsWith("82", StringComparison.OrdinalIgnoreCase)
            || !uint.TryParse(hex.AsSpan(2, 8), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var seconds)
            || !uint.TryParse(hex.AsSpan(10, 8), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var ordinal))
        {
            return null;
        }

        return new ClusterTimestamp(seconds, ordinal);
    }
}

using System.Globalization;

namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>Snapshot ids are UTC timestamps, sortable and file-name safe: <c>20261126T040000Z</c>.</summary>
public static class SnapshotIds
{
    public const string Format = "yyyyMMdd'T'HHmmss'Z'";

    public static string FromTime(DateTimeOffset time) =>
        time.UtcDateTime.ToString(Format, CultureInfo.InvariantCulture);

    public static bool TryParse(string? id, out DateTimeOffset time)
    {
        if (id is not null && DateTime.TryParseExact(id, Format, CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var parsed))
        {
            time = new DateTimeOffset(parsed, TimeSpan.Zero);
            return true;
        }

        time = default;
        return false;
    }

    public static bool IsValid(string? id) => TryParse(id, out _);

    public static DateTimeOffset ToTime(string id) =>
        TryParse(id, out var time) ? time : throw new FormatException($"'{id}' is not a snapshot id (expected yyyyMMddTHHmmssZ).");
}

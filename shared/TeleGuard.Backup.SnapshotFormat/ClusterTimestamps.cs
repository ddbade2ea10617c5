using System.Globalization;

namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>Cluster times as an operator reads and gives them: UTC seconds, with the ordinal when it matters.</summary>
public static class ClusterTimestamps
{
    /// <summary>The last cluster time of the second <paramref name="time"/> falls in: a time T means every event of that second.</summary>
    public static ClusterTimestamp EndOfSecond(DateTimeOffset time)
    {
        var seconds = time.ToUnixTimeSeconds();
        if (seconds is < 0 or > uint.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(time), "A cluster time lies between 1970 and 2106.");
        }

        return new ClusterTimestamp((uint)seconds, uint.MaxValue);
    }

    public static DateTimeOffset ToUtc(ClusterTimestamp time) => DateTimeOffset.FromUnixTimeSeconds(time.T);

    /// <summary><c>2026-11-30T13:42:10Z</c>, followed by the ordinal (<c>#3</c>) unless it is the end of the second.</summary>
    public static string Describe(ClusterTimestamp time) =>
        ToUtc(time).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)
        + (time.I == uint.MaxValue ? "" : string.Create(CultureInfo.InvariantCulture, $" #{time.I}"));
}

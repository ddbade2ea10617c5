namespace TeleGuard.Backup.TestSupport;

public static class StoredTime
{
    /// <summary>A time as MongoDB stores it (UTC, millisecond precision), to compare with a time read back from backups_meta.</summary>
    public static DateTime Of(DateTimeOffset time)
    {
        var utc = time.UtcDateTime;
        return new DateTime(utc.Ticks - utc.Ticks % TimeSpan.TicksPerMillisecond, DateTimeKind.Utc);
    }
}

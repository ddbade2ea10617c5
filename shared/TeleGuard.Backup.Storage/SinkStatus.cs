namespace TeleGuard.Backup.Storage;

public static class SinkStatus
{
    public const string Running = "running";

    /// <summary>An increment parked until its predecessor has an outcome at the same destination.</summary>
    public const string Waiting = "waiting";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Skipped = "skipped";

    public static bool IsFinal(string? status) => status is Succeeded or Failed or Skipped;
}

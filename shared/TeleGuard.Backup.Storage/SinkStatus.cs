namespace TeleGuard.Backup.Storage;

public static class SinkStatus
{
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Skipped = "skipped";

    public static bool IsFinal(string? status) => status is Succeeded or Failed or Skipped;
}

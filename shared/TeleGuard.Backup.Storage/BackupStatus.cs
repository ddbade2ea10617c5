namespace TeleGuard.Backup.Storage;

public static class BackupStatus
{
    public const string Requested = "requested";
    public const string Exporting = "exporting";
    public const string Created = "created";
    public const string Complete = "complete";
    public const string Degraded = "degraded";
    public const string Failed = "failed";

    public static readonly IReadOnlyList<string> All = [Requested, Exporting, Created, Complete, Degraded, Failed];

    /// <summary>Statuses after which nothing more is expected for the snapshot.</summary>
    public static bool IsFinal(string status) => status is Complete or Degraded or Failed;
}

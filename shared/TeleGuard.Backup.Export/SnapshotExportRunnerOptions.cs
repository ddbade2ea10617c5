namespace TeleGuard.Backup.Export;

/// <summary>How the snapshot service's export runner chooses its work (not configured by the environment).</summary>
public sealed class SnapshotExportRunnerOptions
{
    /// <summary>
    /// Only exports requested through this process, and no late announcements: for a one-shot command that runs the
    /// services in process and exits when its own snapshot is done.
    /// </summary>
    public bool OnlyRequestsAcceptedHere { get; set; }
}

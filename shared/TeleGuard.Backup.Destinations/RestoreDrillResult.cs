namespace TeleGuard.Backup.Destinations;

/// <summary>What one destination's drill found: the snapshot it checked, and the error when it failed.</summary>
public sealed record RestoreDrillResult(string Destination, string? SnapshotId, string? Error)
{
    public bool Ok => Error is null;
}

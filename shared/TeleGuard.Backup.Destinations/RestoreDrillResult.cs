namespace TeleGuard.Backup.Destinations;

/// <summary>What one destination's drill found: the snapshot it checked, and the error when it failed.</summary>
public sealed record RestoreDrillResult(string Destination, string? SnapshotId, string? Error)
{
    public bool Ok => Error is null;

    /// <summary>A failure where the snapshot's previous drill of this destination passed, or there was none.</summary>
    public bool NewlyFailing { get; init; }
}

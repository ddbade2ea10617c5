namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>
/// What a restore to a time replays after its snapshot: events up to <paramref name="Target"/> (inclusive) from
/// <paramref name="Increments"/>, which <see cref="IncrementChain.CheckAsync"/> checks before anything is written.
/// </summary>
public sealed record PointInTime(ClusterTimestamp Target, IReadOnlyList<ExtractedIncrement> Increments);

using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Destinations;

/// <summary>A snapshot and the increments after it up to a time, fetched and checked.</summary>
/// <param name="SnapshotFolder">Where the snapshot's files are.</param>
/// <param name="PointInTime">The target time (the end of the history when <c>latest</c> was asked) and the increments to replay.</param>
public sealed record PointInTimeCopy(SnapshotManifest Snapshot, string SnapshotFolder, PointInTime PointInTime);

using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Destinations;

/// <summary>
/// A destination that also keeps the change history between snapshots (increments), so that it can restore to a time.
/// Implemented beside <see cref="IBackupDestination"/> by the destinations that hold increments.
/// </summary>
public interface IPointInTimeSource
{
    /// <summary>
    /// Chooses the newest snapshot whose data time is at or before <paramref name="target"/> (null: the end of the
    /// history) and for which an unbroken chain of increments reaches the target, downloads it into
    /// <c>FOLDER/snapshot</c> and the increments into <c>FOLDER/increments</c>, and checks everything: each file
    /// against its manifest, each artifact against its record, the chain. Throws <see cref="InvalidDataException"/>
    /// or <see cref="InvalidOperationException"/> saying why when there is no such snapshot or chain.
    /// </summary>
    Task<PointInTimeCopy> FetchToTimeAsync(ClusterTimestamp? target, string folder, CancellationToken cancellationToken);
}

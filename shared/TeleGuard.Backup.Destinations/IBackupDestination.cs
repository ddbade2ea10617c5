using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations;

/// <summary>
/// A place that keeps copies of snapshots (the private repository, the public branch, the Telegram channel, the artifact
/// store). Its library holds all of it: options, writer (a <c>SnapshotCreated</c> consumer), retention (a
/// <c>CleanupRequested</c> consumer), the types of what it records in backups_meta (a <see cref="SinkLocation"/>, a
/// <see cref="SinkRemoval"/>), and this reader, registered with <see cref="DestinationRegistration.AddBackupDestination{T}"/>
/// so that restore, verify, the drill and status find every destination without naming it.
/// </summary>
public interface IBackupDestination
{
    /// <summary>Its name: <c>--from NAME</c>, and its key in backups_meta (<c>sinks.NAME</c>, <c>drills.NAME</c>).</summary>
    string Name { get; }

    /// <summary>Whether the configuration turns it on; the drill covers only those.</summary>
    bool IsEnabled { get; }

    /// <summary>What to set to turn it on, in words (for "--from NAME needs ...").</summary>
    string EnabledBy { get; }

    /// <summary>
    /// Whether reading a copy needs backups_meta (MONGODB_URI): true where the copy is found through its record (the
    /// Telegram message ids, the artifact location); a repository can be read without it.
    /// </summary>
    bool ReadsBackupsMeta { get; }

    /// <summary>
    /// Downloads <paramref name="snapshot"/> (an id, or <c>latest</c>: the newest data this destination holds) into
    /// <paramref name="folder"/> and verifies every file against the manifest, which must name the snapshot asked for.
    /// Everything read is untrusted: a copy that does not verify throws and leaves nothing in the folder.
    /// </summary>
    Task<SnapshotManifest> FetchAsync(string snapshot, string folder, CancellationToken cancellationToken);

    /// <summary>
    /// The newest snapshot backups_meta says this destination holds: what <c>latest</c> means for it there, and where a
    /// failed drill is recorded. By default the newest snapshot whose copy here succeeded.
    /// </summary>
    async Task<string?> FindLatestRecordedAsync(BackupsMetaStore meta, CancellationToken cancellationToken) =>
        (await meta.FindLatestSucceededAsync(Name, cancellationToken))?.Id;

    /// <summary>Where a copy is, in words (for <c>status</c>), from the location this destination recorded on <paramref name="copy"/>.</summary>
    /// <exception cref="FormatException">The recorded location does not have this destination's shape.</exception>
    string DescribeCopy(SinkRecord copy);

    /// <summary>
    /// What to add, in words, to "removed by retention" (for <c>status</c>) from the removal this destination recorded on
    /// <paramref name="copy"/>, such as what it had to leave in place; null when there is nothing to add.
    /// </summary>
    /// <exception cref="FormatException">The recorded removal does not have this destination's shape.</exception>
    string? DescribeRemoval(SinkRecord copy) => null;
}

namespace TeleGuard.Backup.Storage;

/// <summary>
/// The claim-check store for snapshot artifacts, reachable from every host (GridFS by default, or a directory on a
/// shared volume). A save is all-or-nothing: until it returns, no location exists that a reader could be given.
/// Every save gets a name of its own, so one export attempt never overwrites or removes another attempt's artifact.
/// </summary>
public interface IArtifactStore
{
    /// <summary>Stores what <paramref name="writeContent"/> writes, computing its size and SHA-256 on the way.</summary>
    Task<StoredArtifact> SaveAsync(string snapshotId, Func<Stream, CancellationToken, Task> writeContent, CancellationToken cancellationToken);

    /// <summary>The locations of every complete artifact of <paramref name="snapshotId"/> in the store (one per attempt that saved one).</summary>
    Task<IReadOnlyList<string>> ListAsync(string snapshotId, CancellationToken cancellationToken);

    /// <summary>Opens an artifact for reading; throws <see cref="ArtifactNotFoundException"/> when it is gone.</summary>
    Task<Stream> OpenReadAsync(string location, CancellationToken cancellationToken);

    Task DeleteAsync(string location, CancellationToken cancellationToken);
}

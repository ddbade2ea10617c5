namespace TeleGuard.Backup.Storage;

/// <summary>
/// The artifact store every service uses: new artifacts go to the configured store (<paramref name="writeTo"/>), and
/// each location is read or deleted in the store it names (<c>gridfs:</c> or <c>dir:</c>). Records written under an
/// earlier configuration, such as GridFS inside the database being backed up before the directory store was chosen,
/// stay restorable and are removed by retention from where they are.
/// </summary>
public sealed class RoutingArtifactStore(IArtifactStore writeTo, GridFsArtifactStore gridFs, DirectoryArtifactStore? directory) : IArtifactStore
{
    public Task<StoredArtifact> SaveAsync(string snapshotId, Func<Stream, CancellationToken, Task> writeContent, CancellationToken cancellationToken) =>
        writeTo.SaveAsync(snapshotId, writeContent, cancellationToken);

    /// <summary>Every store's artifacts of the snapshot: an attempt may have saved under an earlier configuration.</summary>
    public async Task<IReadOnlyList<string>> ListAsync(string snapshotId, CancellationToken cancellationToken)
    {
        var locations = new List<string>(await gridFs.ListAsync(snapshotId, cancellationToken));
        if (directory is not null)
        {
            locations.AddRange(await directory.ListAsync(snapshotId, cancellationToken));
        }

        return locations;
    }

    public Task<Stream> OpenReadAsync(string location, CancellationToken cancellationToken) =>
        StoreOf(location).OpenReadAsync(location, cancellationToken);

    public Task DeleteAsync(string location, CancellationToken cancellationToken) =>
        StoreOf(location).DeleteAsync(location, cancellationToken);

    private IArtifactStore StoreOf(string location) =>
        location.StartsWith(DirectoryArtifactStore.Scheme, StringComparison.Ordinal)
            ? directory ?? throw new ArtifactNotFoundException(location, "a directory-store artifact, and ARTIFACT_DIR is not set")
            : gridFs;
}

namespace TeleGuard.Backup.Storage;

/// <param name="Location">Where the artifact is: <c>gridfs:DATABASE/BUCKET/FILE-ID</c> or <c>dir:FILE-NAME</c>.</param>
public sealed record StoredArtifact(string Location, long Size, string Sha256);

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

public sealed class ArtifactNotFoundException(string location, string? why = null)
    : Exception($"Snapshot artifact {location} is not in the artifact store{(why is null ? "" : $" ({why})")}.")
{
    public string Location { get; } = location;
}

public static class ArtifactNames
{
    /// <summary>A name no other save uses: <c>snapshot-ID.ATTEMPT.tar</c>.</summary>
    public static string NewFileName(string snapshotId) => $"snapshot-{snapshotId}.{Guid.NewGuid():N}.tar";

    /// <summary>Whether <paramref name="fileName"/> is an artifact of <paramref name="snapshotId"/> (also the single name of earlier versions).</summary>
    public static bool IsOf(string snapshotId, string fileName) =>
        fileName == $"snapshot-{snapshotId}.tar"
        || (fileName.StartsWith($"snapshot-{snapshotId}.", StringComparison.Ordinal) && fileName.EndsWith(".tar", StringComparison.Ordinal));
}

using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Storage;

/// <summary>
/// Artifacts as files in a directory on a volume every host mounts at the same path. Written to a temporary name and
/// renamed when complete (atomic on one file system), so a reader never sees a partial file.
/// </summary>
public sealed class DirectoryArtifactStore(string directory) : IArtifactStore
{
    public const string Scheme = "dir:";

    public async Task<StoredArtifact> SaveAsync(string snapshotId, Func<Stream, CancellationToken, Task> writeContent, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        var fileName = ArtifactNames.NewFileName(snapshotId);
        var temporary = Path.Combine(directory, $".{fileName}.{Guid.NewGuid():N}.partial");
        try
        {
            string sha256;
            long size;
            await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            await using (var hashing = new HashingStream(file, leaveOpen: true))
            {
                await writeContent(hashing, cancellationToken);
                await hashing.FlushAsync(cancellationToken);
                file.Flush(flushToDisk: true);
                sha256 = hashing.GetSha256();
                size = hashing.BytesHashed;
            }

            File.Move(temporary, Path.Combine(directory, fileName), overwrite: false);
            return new StoredArtifact(Scheme + fileName, size, sha256);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    public Task<IReadOnlyList<string>> ListAsync(string snapshotId, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> locations = Directory.Exists(directory)
            ? Directory.EnumerateFiles(directory).Select(Path.GetFileName).Where(name => ArtifactNames.IsOf(snapshotId, name!)).Select(name => Scheme + name).ToList()
            : [];
        return Task.FromResult(locations);
    }

    public Task<Stream> OpenReadAsync(string location, CancellationToken cancellationToken)
    {
        var path = PathOf(location);
        if (!File.Exists(path))
        {
            throw new ArtifactNotFoundException(location);
        }

        return Task.FromResult<Stream>(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan));
    }

    public Task DeleteAsync(string location, CancellationToken cancellationToken)
    {
        File.Delete(PathOf(location));
        return Task.CompletedTask;
    }

    private string PathOf(string location)
    {
        var name = location.StartsWith(Scheme, StringComparison.Ordinal) ? location[Scheme.Length..] : "";
        if (name.Length == 0 || name.Contains('/') || name.Contains('\\') || name.StartsWith('.'))
        {
            throw new ArgumentException($"'{location}' is not a location in the artifact directory.", nameof(location));
        }

        return Path.Combine(directory, name);
    }
}

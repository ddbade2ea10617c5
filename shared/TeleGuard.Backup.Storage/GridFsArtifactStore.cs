using MongoDB.Bson;
using MongoDB.Driver;
using MongoDB.Driver.GridFS;
using TeleGuard.Backup.Snapshots;

namespace TeleGuard.Backup.Storage;

/// <summary>
/// Artifacts as GridFS files. GridFS writes the files document only when the upload completes, so a crash mid-upload
/// leaves orphan chunks but no file: nothing can reference half an artifact. Each upload is a file of its own; the
/// snapshot service removes the files of earlier, unrecorded attempts while it holds the snapshot's export lease.
/// </summary>
public sealed class GridFsArtifactStore(IMongoDatabase database, string bucketName) : IArtifactStore
{
    private const string Scheme = "gridfs:";

    private readonly GridFSBucket _bucket = new(database, new GridFSBucketOptions { BucketName = bucketName, ChunkSizeBytes = 1024 * 1024 });

    public async Task<StoredArtifact> SaveAsync(string snapshotId, Func<Stream, CancellationToken, Task> writeContent, CancellationToken cancellationToken)
    {
        var fileName = ArtifactNames.NewFileName(snapshotId);
        await using var upload = await _bucket.OpenUploadStreamAsync(fileName, new GridFSUploadOptions
        {
            Metadata = new BsonDocument { { "snapshotId", snapshotId } },
        }, cancellationToken);
        string sha256;
        long size;
        try
        {
            await using (var hashing = new HashingStream(upload, leaveOpen: true))
            {
                await writeContent(hashing, cancellationToken);
                await hashing.FlushAsync(cancellationToken);
                sha256 = hashing.GetSha256();
                size = hashing.BytesHashed;
            }

            await upload.CloseAsync(cancellationToken);
        }
        catch
        {
            await upload.AbortAsync(CancellationToken.None);
            throw;
        }

        return new StoredArtifact($"{Scheme}{bucketName}/{upload.Id}", size, sha256);
    }

    public async Task<Stream> OpenReadAsync(string location, CancellationToken cancellationToken)
    {
        var id = ParseId(location);
        try
        {
            return await _bucket.OpenDownloadStreamAsync(id, new GridFSDownloadOptions { Seekable = false }, cancellationToken);
        }
        catch (GridFSFileNotFoundException)
        {
            throw new ArtifactNotFoundException(location);
        }
    }

    public async Task DeleteAsync(string location, CancellationToken cancellationToken)
    {
        try
        {
            await _bucket.DeleteAsync(ParseId(location), cancellationToken);
        }
        catch (GridFSFileNotFoundException)
        {
            // Already gone: deleting is idempotent.
        }
    }

    public async Task<IReadOnlyList<string>> ListAsync(string snapshotId, CancellationToken cancellationToken)
    {
        using var cursor = await _bucket.FindAsync(Builders<GridFSFileInfo>.Filter.Eq("metadata.snapshotId", snapshotId), cancellationToken: cancellationToken);
        return (await cursor.ToListAsync(cancellationToken)).Select(f => $"{Scheme}{bucketName}/{f.Id}").ToList();
    }

    private ObjectId ParseId(string location)
    {
        var prefix = $"{Scheme}{bucketName}/";
        if (!location.StartsWith(prefix, StringComparison.Ordinal) || !ObjectId.TryParse(location[prefix.Length..], out var id))
        {
            throw new ArgumentException($"'{location}' is not a location in GridFS bucket {bucketName}.", nameof(location));
        }

        return id;
    }
}

using MongoDB.Bson;
using MongoDB.Driver;
using MongoDB.Driver.GridFS;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Storage;

/// <summary>
/// Artifacts as GridFS files in <paramref name="database"/>, located as <c>gridfs:DATABASE/BUCKET/FILE-ID</c>. GridFS
/// writes the files document only when the upload completes, so a crash mid-upload leaves orphan chunks but no file:
/// nothing can reference half an artifact. Each upload is a file of its own; the snapshot service removes the files of
/// earlier, unrecorded attempts while it holds the snapshot's export lease. Locations written by earlier versions,
/// <c>gridfs:BUCKET/FILE-ID</c>, name files in the database that was backed up (<paramref name="legacyDatabase"/>): they
/// are read and deleted there.
/// </summary>
public sealed class GridFsArtifactStore(IMongoDatabase database, string bucketName, IMongoDatabase? legacyDatabase = null) : IArtifactStore
{
    private const string Scheme = "gridfs:";

    private readonly GridFSBucket _bucket = Bucket(database, bucketName);
    private readonly GridFSBucket? _legacyBucket = legacyDatabase is null ? null : Bucket(legacyDatabase, bucketName);

    private string Prefix => $"{Scheme}{database.DatabaseNamespace.DatabaseName}/{bucketName}/";

    private static GridFSBucket Bucket(IMongoDatabase database, string bucketName) =>
        new(database, new GridFSBucketOptions { BucketName = bucketName, ChunkSizeBytes = 1024 * 1024 });

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

        return new StoredArtifact($"{Prefix}{upload.Id}", size, sha256);
    }

    public async Task<Stream> OpenReadAsync(string location, CancellationToken cancellationToken)
    {
        var (bucket, id) = Parse(location);
        try
        {
            return await bucket.OpenDownloadStreamAsync(id, new GridFSDownloadOptions { Seekable = false }, cancellationToken);
        }
        catch (GridFSFileNotFoundException)
        {
            throw new ArtifactNotFoundException(location);
        }
    }

    public async Task DeleteAsync(string location, CancellationToken cancellationToken)
    {
        var (bucket, id) = Parse(location);
        try
        {
            await bucket.DeleteAsync(id, cancellationToken);
        }
        catch (GridFSFileNotFoundException)
        {
            // Already gone: deleting is idempotent.
        }
    }

    public async Task<IReadOnlyList<string>> ListAsync(string snapshotId, CancellationToken cancellationToken)
    {
        using var cursor = await _bucket.FindAsync(Builders<GridFSFileInfo>.Filter.Eq("metadata.snapshotId", snapshotId), cancellationToken: cancellationToken);
        return (await cursor.ToListAsync(cancellationToken)).Select(f => $"{Prefix}{f.Id}").ToList();
    }

    private (GridFSBucket Bucket, ObjectId Id) Parse(string location)
    {
        var legacyPrefix = $"{Scheme}{bucketName}/";
        var (bucket, id) = location.StartsWith(Prefix, StringComparison.Ordinal) ? (_bucket, location[Prefix.Length..])
            : _legacyBucket is not null && location.StartsWith(legacyPrefix, StringComparison.Ordinal) ? (_legacyBucket, location[legacyPrefix.Length..])
            : (null, "");
        if (bucket is null || !ObjectId.TryParse(id, out var fileId))
        {
            // Written under another configuration (another ARTIFACT_DATABASE or bucket): not reachable from here.
            throw new ArtifactNotFoundException(location, $"not in GridFS bucket {bucketName} of database {database.DatabaseNamespace.DatabaseName}, where this configuration keeps artifacts");
        }

        return (bucket, fileId);
    }
}

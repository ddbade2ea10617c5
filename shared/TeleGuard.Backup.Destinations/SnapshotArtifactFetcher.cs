using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations;

/// <summary>
/// Downloads a snapshot's artifact and extracts it, verified: every file against the manifest, and the whole stream
/// against the size and SHA-256 that <see cref="SnapshotCreated"/> announced. A missing or corrupt artifact is a
/// permanent failure (retrying cannot fix it); nothing is extracted then.
/// </summary>
public sealed class SnapshotArtifactFetcher(IArtifactStore store)
{
    /// <summary>
    /// Writes the artifact gzip-compressed to <paramref name="destination"/>, checking it on the way against the announced
    /// size and SHA-256 and every file against the manifest, which it returns (the compressed file is deleted when
    /// anything does not match). The snapshot service stores artifacts compressed, so their bytes are copied as they are;
    /// the plain tar of an older artifact is compressed here.
    /// </summary>
    public async Task<SnapshotManifest> CompressVerifiedAsync(SnapshotCreated snapshot, string destination, CancellationToken cancellationToken)
    {
        Stream artifact;
        try
        {
            artifact = await store.OpenReadAsync(snapshot.ArtifactLocation, cancellationToken);
        }
        catch (ArtifactNotFoundException e)
        {
            throw new PermanentFailureException(e.Message, e);
        }

        await using (artifact)
        await using (var hashing = new HashingStream(artifact))
        {
            SnapshotManifest manifest;
            try
            {
                await using var output = File.Create(destination);
                var (bytes, isGzip, _) = await ArtifactCompression.PeekAsync(hashing, cancellationToken);
                await using Stream compressed = isGzip ? output : new System.IO.Compression.GZipStream(output, ArtifactCompression.Level, leaveOpen: true);
                await using var copying = new CopyingReadStream(bytes, compressed);
                manifest = await SnapshotArchive.ReadAsync(copying, onFile: null, cancellationToken);
                await copying.CopyToAsync(Stream.Null, 1 << 20, cancellationToken); // tar padding (and gzip trailer) after the last entry
            }
            catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException or System.Text.Json.JsonException)
            {
                File.Delete(destination);
                throw new PermanentFailureException($"Snapshot {snapshot.SnapshotId}: unusable artifact: {e.Message}", e);
            }

            var sha256 = hashing.GetSha256();
            var problem = hashing.BytesHashed != snapshot.ArtifactSize || sha256 != snapshot.ArtifactSha256
                ? $"the artifact has {hashing.BytesHashed} bytes and SHA-256 {sha256}, the announcement said {snapshot.ArtifactSize} bytes and {snapshot.ArtifactSha256}."
                : manifest.SnapshotId != snapshot.SnapshotId ? $"artifact {snapshot.ArtifactLocation} holds another snapshot." : null;
            if (problem is not null)
            {
                File.Delete(destination);
                throw new PermanentFailureException($"Snapshot {snapshot.SnapshotId}: {problem}");
            }

            return manifest;
        }
    }

    public async Task<SnapshotManifest> ExtractVerifiedAsync(SnapshotCreated snapshot, string destination, CancellationToken cancellationToken)
    {
        try
        {
            await using var artifact = await store.OpenReadAsync(snapshot.ArtifactLocation, cancellationToken);
            await using var hashing = new HashingStream(artifact);
            var manifest = await SnapshotArchive.ExtractAsync(hashing, destination, cancellationToken);
            await hashing.CopyToAsync(Stream.Null, cancellationToken); // tar padding after the last entry
            var sha256 = hashing.GetSha256();
            if (hashing.BytesHashed != snapshot.ArtifactSize || sha256 != snapshot.ArtifactSha256)
            {
                throw new InvalidDataException(
                    $"Snapshot {snapshot.SnapshotId}: the artifact has {hashing.BytesHashed} bytes and SHA-256 {sha256}, the announcement said {snapshot.ArtifactSize} bytes and {snapshot.ArtifactSha256}.");
            }

            if (manifest.SnapshotId != snapshot.SnapshotId)
            {
                throw new InvalidDataException($"Artifact {snapshot.ArtifactLocation} holds snapshot {manifest.SnapshotId}, not {snapshot.SnapshotId}.");
            }

            return manifest;
        }
        catch (Exception e) when (e is ArtifactNotFoundException or InvalidDataException or EndOfStreamException or FormatException or System.Text.Json.JsonException)
        {
            if (Directory.Exists(destination))
            {
                Directory.Delete(destination, recursive: true);
            }

            throw new PermanentFailureException($"Snapshot {snapshot.SnapshotId}: unusable artifact: {e.Message}", e);
        }
    }
}

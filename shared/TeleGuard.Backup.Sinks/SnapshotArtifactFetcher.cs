using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Snapshots;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Sinks;

/// <summary>
/// Downloads a snapshot's artifact and extracts it, verified: every file against the manifest, and the whole stream
/// against the size and SHA-256 that <see cref="SnapshotCreated"/> announced. A missing or corrupt artifact is a
/// permanent failure (retrying cannot fix it); nothing is extracted then.
/// </summary>
public sealed class SnapshotArtifactFetcher(IArtifactStore store)
{
    /// <summary>
    /// Writes the artifact gzip-compressed to <paramref name="destination"/>, checking it against the announced size and
    /// SHA-256 on the way (the compressed file is deleted when it does not match).
    /// </summary>
    public async Task CompressVerifiedAsync(SnapshotCreated snapshot, string destination, CancellationToken cancellationToken)
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
            await using (var output = File.Create(destination))
            await using (var gzip = new System.IO.Compression.GZipStream(output, System.IO.Compression.CompressionLevel.Optimal))
            {
                await hashing.CopyToAsync(gzip, 1 << 20, cancellationToken);
            }

            var sha256 = hashing.GetSha256();
            if (hashing.BytesHashed != snapshot.ArtifactSize || sha256 != snapshot.ArtifactSha256)
            {
                File.Delete(destination);
                throw new PermanentFailureException(
                    $"Snapshot {snapshot.SnapshotId}: the artifact has {hashing.BytesHashed} bytes and SHA-256 {sha256}, the announcement said {snapshot.ArtifactSize} bytes and {snapshot.ArtifactSha256}.");
            }
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

using System.Formats.Tar;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations;

/// <summary>
/// Downloads an increment's artifact and checks it against the announcement (size, SHA-256) and the format's checks
/// (the events against the manifest). A missing or unusable artifact is a permanent failure (retrying cannot fix it).
/// </summary>
public sealed class IncrementArtifactFetcher(IArtifactStore store)
{
    /// <summary>The artifact as <c>FOLDER/increment.tar</c> and its events as <c>FOLDER/events.jsonl</c>, both checked.</summary>
    public async Task<VerifiedIncrement> FetchVerifiedAsync(IncrementCreated increment, string folder, CancellationToken cancellationToken)
    {
        var artifactFile = Path.Combine(folder, "increment.tar");
        Stream artifact;
        try
        {
            artifact = await store.OpenReadAsync(increment.ArtifactLocation, cancellationToken);
        }
        catch (ArtifactNotFoundException e)
        {
            throw new PermanentFailureException(e.Message, e);
        }

        await using (artifact)
        await using (var hashing = new HashingStream(artifact))
        {
            await using (var output = File.Create(artifactFile))
            {
                await hashing.CopyToAsync(output, cancellationToken);
            }

            var sha256 = hashing.GetSha256();
            if (hashing.BytesHashed != increment.ArtifactSize || sha256 != increment.ArtifactSha256)
            {
                throw new PermanentFailureException(
                    $"Increment {increment.IncrementId}: the artifact has {hashing.BytesHashed} bytes and SHA-256 {sha256}, the announcement said {increment.ArtifactSize} bytes and {increment.ArtifactSha256}.");
            }
        }

        var eventsFile = Path.Combine(folder, IncrementManifest.EventsFileName);
        IncrementManifest manifest;
        byte[] manifestBytes;
        try
        {
            await using (var archive = File.OpenRead(artifactFile))
            {
                manifest = await IncrementArchive.ExtractAsync(archive, eventsFile, increment.IncrementId, cancellationToken);
            }

            manifestBytes = await ReadManifestBytesAsync(artifactFile, cancellationToken);
        }
        catch (InvalidDataException e)
        {
            throw new PermanentFailureException($"Increment {increment.IncrementId}: unusable artifact: {e.Message}", e);
        }

        if (manifest.Chain != increment.Chain || manifest.Sequence != increment.Sequence || manifest.BaseSnapshotId != increment.BaseSnapshotId)
        {
            throw new PermanentFailureException($"Increment {increment.IncrementId}: the artifact's manifest names another chain, sequence or base snapshot than the announcement.");
        }

        return new VerifiedIncrement(manifest, manifestBytes, artifactFile, eventsFile);
    }

    // The manifest exactly as the recorder wrote it (the archive's first entry, which ExtractAsync checked).
    private static async Task<byte[]> ReadManifestBytesAsync(string artifactFile, CancellationToken cancellationToken)
    {
        await using var archive = File.OpenRead(artifactFile);
        await using var tar = new TarReader(archive);
        var first = await tar.GetNextEntryAsync(copyData: false, cancellationToken)
            ?? throw new InvalidDataException("Increment archive is empty.");
        using var bytes = new MemoryStream();
        await first.DataStream!.CopyToAsync(bytes, cancellationToken);
        return bytes.ToArray();
    }
}

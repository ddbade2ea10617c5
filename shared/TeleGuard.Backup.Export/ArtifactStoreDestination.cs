using TeleGuard.Backup.Destinations;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Export;

/// <summary>
/// Reads a snapshot back from the artifact store the export wrote it to (GridFS of MONGODB_URI or ARTIFACT_DIR): the
/// artifact recorded in backups_meta, checked against its recorded SHA-256 as a whole and every file against the manifest.
/// </summary>
public sealed class ArtifactStoreDestination(IServiceProvider services) : IBackupDestination
{
    public string Name => CleanupReporter.ArtifactStoreDestination;

    public bool IsEnabled => true;

    public string EnabledBy => "MONGODB_URI";

    public bool ReadsBackupsMeta => true;

    // The store keeps no sink record: its copy is the snapshot's artifact (an ArtifactRecord), which status shows on its own.
    public string DescribeCopy(SinkRecord copy) => CopyDescription.Join();

    public async Task<SnapshotManifest> FetchAsync(string snapshot, string folder, CancellationToken cancellationToken)
    {
        // Resolved here, not injected: a host that only restores from a repository needs no MONGODB_URI.
        var meta = services.GetRequiredService<BackupsMetaStore>();
        var store = services.GetRequiredService<IArtifactStore>();
        var record = snapshot == "latest" ? await FindLatestAsync(meta, cancellationToken) : await meta.GetAsync(snapshot, cancellationToken);
        if (record?.Artifact is not { DeletedAt: null } artifact)
        {
            throw new InvalidOperationException(snapshot == "latest"
                ? "No snapshot with an artifact in the artifact store."
                : $"Snapshot {snapshot} has no artifact in the artifact store (unknown, failed, or removed by retention).");
        }

        await using var stream = await store.OpenReadAsync(artifact.Location, cancellationToken);
        await using var hashing = new HashingStream(stream);
        var manifest = await SnapshotArchive.ExtractAsync(hashing, folder, cancellationToken);
        await hashing.CopyToAsync(Stream.Null, cancellationToken);
        if (hashing.GetSha256() != artifact.Sha256)
        {
            Directory.Delete(folder, recursive: true);
            throw new InvalidDataException($"Snapshot {record.Id}: the artifact's SHA-256 differs from the one recorded.");
        }

        return FetchedCopy.EnsureHolds(manifest, record.Id, folder, "the artifact in the store");
    }

    public async Task<string?> FindLatestRecordedAsync(BackupsMetaStore meta, CancellationToken cancellationToken) =>
        (await FindLatestAsync(meta, cancellationToken))?.Id;

    // The newest data with an artifact still in the store, of a snapshot whose export finished.
    private static async Task<BackupRecord?> FindLatestAsync(BackupsMetaStore meta, CancellationToken cancellationToken) =>
        (await meta.ListRecentAsync(200, cancellationToken)).Where(r => r.Artifact is { DeletedAt: null } && r.Status != BackupStatus.Exporting)
            .OrderByDescending(r => r.DataTime).ThenByDescending(r => r.Id, StringComparer.Ordinal).FirstOrDefault();
}

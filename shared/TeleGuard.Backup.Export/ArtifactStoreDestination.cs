using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.Destinations;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Export;

/// <summary>
/// Reads a snapshot back from the artifact store the export wrote it to (GridFS of MONGODB_URI or ARTIFACT_DIR): the
/// artifact recorded in backups_meta, checked against its recorded SHA-256 as a whole and every file against the manifest.
/// It also holds the increments the change recorder writes, so it can restore to a time.
/// </summary>
public sealed class ArtifactStoreDestination(IServiceProvider services) : IBackupDestination, IPointInTimeSource
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

    public async Task<PointInTimeCopy> FetchToTimeAsync(ClusterTimestamp? target, string folder, CancellationToken cancellationToken)
    {
        var meta = services.GetRequiredService<BackupsMetaStore>();
        var store = services.GetRequiredService<IArtifactStore>();
        var databaseName = services.GetRequiredService<IMongoDatabase>().DatabaseNamespace.DatabaseName;
        var snapshots = (await meta.ListRecentAsync(1000, cancellationToken)).Where(r => r.Artifact is { DeletedAt: null } && r.Status != BackupStatus.Exporting).ToList();
        var increments = (await services.GetRequiredService<IncrementsStore>().ListAsync(databaseName, cancellationToken))
            .Where(r => r.Artifact is { DeletedAt: null }).ToList();
        var (snapshot, chosen, time) = PointInTimePlanner.Choose(snapshots, increments, target, databaseName);

        var snapshotFolder = Path.Combine(folder, "snapshot");
        var manifest = await FetchAsync(snapshot.Id, snapshotFolder, cancellationToken);
        var incrementsFolder = Path.Combine(folder, "increments");
        Directory.CreateDirectory(incrementsFolder);
        var extracted = new List<ExtractedIncrement>();
        foreach (var record in chosen)
        {
            extracted.Add(await FetchIncrementAsync(store, record, Path.Combine(incrementsFolder, $"{record.Sequence:D6}.jsonl"), cancellationToken));
        }

        var pointInTime = new PointInTime(time, extracted);
        return new PointInTimeCopy(manifest, snapshotFolder, pointInTime with { Increments = await IncrementChain.CheckAsync(manifest, pointInTime, cancellationToken) });
    }

    // One increment's artifact, checked as a whole against its record and its events against its manifest.
    private static async Task<ExtractedIncrement> FetchIncrementAsync(IArtifactStore store, IncrementRecord record, string eventsFile, CancellationToken cancellationToken)
    {
        Stream stream;
        try
        {
            stream = await store.OpenReadAsync(record.Artifact.Location, cancellationToken);
        }
        catch (ArtifactNotFoundException e)
        {
            throw new InvalidDataException($"Increment {record.Id}: its artifact is gone from the store ({e.Message}).", e);
        }

        await using (stream)
        await using (var hashing = new HashingStream(stream))
        {
            var manifest = await IncrementArchive.ExtractAsync(hashing, eventsFile, record.Id, cancellationToken);
            await hashing.CopyToAsync(Stream.Null, cancellationToken); // tar padding after the last entry
            if (hashing.GetSha256() != record.Artifact.Sha256 || manifest.Sha256 != record.Sha256)
            {
                File.Delete(eventsFile);
                throw new InvalidDataException($"Increment {record.Id}: the artifact in the store is not the one recorded in backups_meta (its SHA-256 differs).");
            }

            return new ExtractedIncrement(manifest, eventsFile);
        }
    }

    public async Task<string?> FindLatestRecordedAsync(BackupsMetaStore meta, CancellationToken cancellationToken) =>
        (await FindLatestAsync(meta, cancellationToken))?.Id;

    // The newest data with an artifact still in the store, of a snapshot whose export finished.
    private static async Task<BackupRecord?> FindLatestAsync(BackupsMetaStore meta, CancellationToken cancellationToken) =>
        (await meta.ListRecentAsync(200, cancellationToken)).Where(r => r.Artifact is { DeletedAt: null } && r.Status != BackupStatus.Exporting)
            .OrderByDescending(r => r.DataTime).ThenByDescending(r => r.Id, StringComparer.Ordinal).FirstOrDefault();
}

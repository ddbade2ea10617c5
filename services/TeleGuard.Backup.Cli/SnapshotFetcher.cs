using TeleGuard.Backup.Snapshots;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Cli;

/// <summary>Fetches a snapshot (by id, or <c>latest</c>) from a destination or the store into a verified folder.</summary>
public sealed class SnapshotFetcher(IConfiguration configuration, BackupsMetaStore meta, IArtifactStore store)
{
    public static readonly string[] Destinations = ["github", "public", "telegram", "store"];

    public Task<SnapshotManifest> FetchAsync(string from, string snapshot, string folder, CancellationToken cancellationToken) => from switch
    {
        "github" => DestinationFetchers.FromGitHubAsync(configuration, snapshot, folder),
        "public" => DestinationFetchers.FromPublicAsync(configuration, snapshot, folder),
        "telegram" => DestinationFetchers.FromTelegramAsync(configuration, meta, snapshot, folder),
        "store" => FromStoreAsync(snapshot, folder, cancellationToken),
        _ => throw new ArgumentOutOfRangeException(nameof(from), from, "Unknown source."),
    };

    private async Task<SnapshotManifest> FromStoreAsync(string snapshot, string folder, CancellationToken cancellationToken)
    {
        var record = snapshot == "latest"
            ? (await meta.ListRecentAsync(200, cancellationToken)).Where(r => r.Artifact is { DeletedAt: null } && r.Status != BackupStatus.Exporting)
                .OrderByDescending(r => r.DataTime).ThenByDescending(r => r.Id, StringComparer.Ordinal).FirstOrDefault()
            : await meta.GetAsync(snapshot, cancellationToken);
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

        return manifest;
    }
}

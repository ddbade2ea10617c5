using System.Security.Cryptography;
using System.Text;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.TestSupport;

/// <summary>
/// Announces a snapshot made without MongoDB: one collection "big" of generated JSON lines (random base64 padding,
/// so it barely compresses), stored in the host's artifact store and recorded in backups_meta exactly as the snapshot
/// service records one. For sink tests that need a given size quickly.
/// </summary>
public static class SyntheticSnapshots
{
    /// <param name="dataTime">When the data was read (its export's end); now by default.</param>
    /// <param name="compressed">Stored gzip-compressed as the snapshot service stores it; false for the plain tar of earlier versions.</param>
    public static async Task<SnapshotCreated> AnnounceAsync(IServiceProvider services, string workDirectory, string id, long jsonBytes,
        long partBytes = 200L * 1024 * 1024, DateTimeOffset? dataTime = null, bool compressed = true)
    {
        var readAt = dataTime ?? DateTimeOffset.UtcNow;
        var folder = Path.Combine(workDirectory, $"synthetic-{id}");
        var directory = SnapshotPaths.CollectionDirectory("big");
        Directory.CreateDirectory(Path.Combine(folder, directory));
        var metadata = Encoding.UTF8.GetBytes("{\"name\":\"big\",\"type\":\"collection\",\"options\":{},\"indexes\":[]}\n");
        await File.WriteAllBytesAsync(Path.Combine(folder, SnapshotPaths.MetadataFile(directory)), metadata);
        SnapshotManifest manifest;
        using (var writer = new JsonLinesPartWriter(folder, directory, partBytes))
        {
            var random = new Random(id.GetHashCode(StringComparison.Ordinal));
            var pad = new byte[750];
            for (var i = 0; writer.Bytes < jsonBytes; i++)
            {
                random.NextBytes(pad);
                writer.WriteLine(Encoding.UTF8.GetBytes($"{{\"_id\":{{\"$numberInt\":\"{i}\"}},\"pad\":\"{Convert.ToBase64String(pad)}\"}}\n"));
            }

            var (parts, sha256) = writer.Complete();
            manifest = new SnapshotManifest
            {
                SnapshotId = id,
                StartedAt = readAt,
                FinishedAt = readAt,
                Source = new SnapshotSource("synthetic", ["localhost:27017"], null),
                Consistency = new SnapshotConsistency(SnapshotConsistency.None, null),
                Collections = [new CollectionEntry("big", "collection", directory, writer.Documents, writer.Bytes, sha256,
                    new FileEntry(SnapshotPaths.MetadataFile(directory), metadata.Length, Convert.ToHexStringLower(SHA256.HashData(metadata))), parts)],
            };
        }

        var stored = await services.GetRequiredService<IArtifactStore>()
            .SaveAsync(id, (s, ct) => compressed ? SnapshotArchive.WriteCompressedAsync(folder, manifest, s, ct) : SnapshotArchive.WriteAsync(folder, manifest, s, ct),
                CancellationToken.None);
        Directory.Delete(folder, recursive: true);
        var meta = services.GetRequiredService<BackupsMetaStore>();
        await meta.RecordRequestedAsync(id, DateTimeOffset.UtcNow, "test", CancellationToken.None);
        await meta.TryClaimExportAsync(id, "synthetic", TimeSpan.FromMinutes(5), CancellationToken.None);
        var artifact = new ArtifactRecord { Location = stored.Location, Size = stored.Size, Sha256 = stored.Sha256 };
        if (!await meta.MarkCreatedAsync(id, "synthetic", artifact, manifest, CancellationToken.None))
        {
            throw new InvalidOperationException($"Could not record synthetic snapshot {id}.");
        }

        var message = new SnapshotCreated(id, DateTimeOffset.UtcNow, stored.Location, stored.Size, stored.Sha256, 1, manifest.TotalDocuments);
        await services.GetRequiredService<IBus>().Publish(message);
        return message;
    }
}

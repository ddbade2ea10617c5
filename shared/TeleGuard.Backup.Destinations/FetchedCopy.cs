using TeleGuard.Backup.Git;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Destinations;

/// <summary>Checks every reader applies to what it fetched.</summary>
public static class FetchedCopy
{
    /// <summary>
    /// A copy of another snapshot under the requested one's name (swapped or rolled back) is refused, and its files
    /// deleted; <paramref name="where"/> names the copy in the message ("the commit on …").
    /// </summary>
    public static SnapshotManifest EnsureHolds(SnapshotManifest manifest, string snapshotId, string folder, string where)
    {
        if (manifest.SnapshotId == snapshotId)
        {
            return manifest;
        }

        Directory.Delete(folder, recursive: true);
        var claimed = SnapshotIds.IsValid(manifest.SnapshotId) ? manifest.SnapshotId : UntrustedPaths.Quote(manifest.SnapshotId ?? "");
        throw new InvalidDataException($"Snapshot {snapshotId}: {where} holds snapshot {claimed} (its manifest says so): it was swapped, rolled back or renamed.");
    }

    /// <summary>Removes the reader's scratch folders and files, whatever of them exists.</summary>
    public static void DeleteScratch(params string[] paths)
    {
        foreach (var path in paths)
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
            else
            {
                File.Delete(path);
            }
        }
    }
}

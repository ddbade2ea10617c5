using LibGit2Sharp;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Destinations.GitHub;

/// <summary>
/// Which increment files compaction removes from the branch: those of increments that end (<c>to</c>) at or before the
/// cluster time of the snapshot it keeps, the oldest snapshot left. A restore to any time after that snapshot needs
/// only the increments ending after it, so those all stay, whatever folder (base snapshot) they are in. A kept snapshot
/// without a cluster time (a standalone server) starts no history: nothing is removed then. A manifest that does not
/// parse is left where it is (a restore refuses it and names it; compaction does not guess).
/// </summary>
public static class IncrementRetention
{
    public static IReadOnlyCollection<string> FilesToRemove(Repository repository, Tree head, ClusterTimestamp? keptClusterTime)
    {
        var remove = new List<string>();
        if (keptClusterTime is null || head[RepositoryLayout.IncrementsFolder]?.Target is not Tree increments)
        {
            return remove;
        }

        foreach (var baseFolder in increments.Where(e => e.Target is Tree))
        {
            foreach (var entry in ((Tree)baseFolder.Target).Where(e => e.Name.EndsWith(RepositoryLayout.ManifestExtension, StringComparison.Ordinal)))
            {
                if (entry.Target is not Blob blob || repository.ObjectDatabase.RetrieveObjectMetadata(blob.Id).Size > IncrementArchive.MaxManifestBytes)
                {
                    continue;
                }

                IncrementManifest manifest;
                try
                {
                    manifest = IncrementManifest.Parse(ReadAll(blob));
                }
                catch (InvalidDataException)
                {
                    continue;
                }

                if (IncrementManifest.Compare(manifest.To, keptClusterTime) <= 0)
                {
                    var folder = $"{RepositoryLayout.IncrementsFolder}/{baseFolder.Name}";
                    remove.Add($"{folder}/{entry.Name}");
                    remove.Add($"{folder}/{entry.Name[..^RepositoryLayout.ManifestExtension.Length]}{RepositoryLayout.EventsExtension}");
                }
            }
        }

        return remove;
    }

    private static byte[] ReadAll(Blob blob)
    {
        using var content = blob.GetContentStream();
        using var bytes = new MemoryStream();
        content.CopyTo(bytes);
        return bytes.ToArray();
    }
}

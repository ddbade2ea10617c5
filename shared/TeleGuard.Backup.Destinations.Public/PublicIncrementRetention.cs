using LibGit2Sharp;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Destinations.Public;

/// <summary>
/// Which increment files retention removes from the public branch: those of increments that end (<c>to</c>) at or
/// before the cluster time of the oldest snapshot it keeps. A restore to any time after that snapshot needs only the
/// increments ending after it, so those all stay, whatever folder (base snapshot) they are in. The branch holds no
/// plaintext to read <c>to</c> from, so it comes from the increments' records in backups_meta: a file whose record is
/// not known (or a kept snapshot without a cluster time) is left where it is.
/// </summary>
public static class PublicIncrementRetention
{
    /// <param name="ends">The <c>to</c> of each increment recorded, by id.</param>
    public static IReadOnlyCollection<string> FilesToRemove(Tree? head, ClusterTimestamp? keptClusterTime, IReadOnlyDictionary<string, ClusterTimestamp> ends)
    {
        var remove = new List<string>();
        if (keptClusterTime is null || head?[PublicIncrements.Folder]?.Target is not Tree increments)
        {
            return remove;
        }

        foreach (var baseFolder in increments.Where(e => e.Target is Tree))
        {
            foreach (var entry in ((Tree)baseFolder.Target).Where(e => e.Name.EndsWith(PublicIncrements.Extension, StringComparison.Ordinal)))
            {
                var id = entry.Name[..^PublicIncrements.Extension.Length];
                if (ends.TryGetValue(id, out var to) && IncrementManifest.Compare(to, keptClusterTime) <= 0)
                {
                    remove.Add($"{PublicIncrements.Folder}/{baseFolder.Name}/{entry.Name}");
                }
            }
        }

        return remove;
    }
}

using LibGit2Sharp;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Destinations;

/// <summary>How a branch files its increments: <c>FOLDER/BASE/ID&lt;extension&gt;</c>, one folder per base snapshot.</summary>
public static class IncrementsOnBranch
{
    /// <summary>
    /// The id of the previous increment of the chain when the branch holds some increment of that chain but not it;
    /// null when this one may be committed (the first of its chain, its predecessor there, or nothing of the chain
    /// there: the sink started mid-chain, or compaction removed the earlier ones).
    /// </summary>
    /// <param name="extension">The extension of the one file each increment always has on the branch (e.g. <c>.json</c>).</param>
    public static string? MissingPredecessor(Tree? tree, string folder, string extension, IncrementManifest manifest)
    {
        if (manifest.Sequence == 1 || tree?[folder]?.Target is not Tree increments)
        {
            return null;
        }

        var predecessor = IncrementManifest.IdOf(manifest.Chain, manifest.Sequence - 1);
        var chainPrefix = $"{manifest.Chain}-";
        var chainOnBranch = false;
        foreach (var baseFolder in increments.Select(e => e.Target).OfType<Tree>())
        {
            foreach (var entry in baseFolder)
            {
                if (entry.Name == predecessor + extension)
                {
                    return null;
                }

                chainOnBranch |= entry.Name.StartsWith(chainPrefix, StringComparison.Ordinal);
            }
        }

        return chainOnBranch ? predecessor : null;
    }
}

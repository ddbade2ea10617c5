using LibGit2Sharp;

namespace TeleGuard.Backup.Git;

/// <summary>
/// Writes an untrusted git tree to a folder: only plain files and folders with safe names, nothing outside the folder,
/// and bounded depth, entry count and file size (a blob's size is read from its header before it is loaded, because
/// libgit2 loads a blob whole).
/// </summary>
internal sealed class TreeExport(Repository repository, string root, string source)
{
    public const int MaxDepth = 32;
    public const int MaxEntries = 200_000;
    public const long MaxFileBytes = GitHubFileLimit.MaxBytes;

    private int _entries;

    public void Write(Tree tree, string treePath, string folder, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new InvalidDataException($"{source} nests folders deeper than {MaxDepth} levels at {UntrustedPaths.Quote(treePath)}: refused.");
        }

        Directory.CreateDirectory(folder);
        foreach (var entry in tree)
        {
            var shown = treePath.Length == 0 ? entry.Name : $"{treePath}/{entry.Name}";
            if (++_entries > MaxEntries)
            {
                throw new InvalidDataException($"{source} has more than {MaxEntries} entries: refused.");
            }

            if (!UntrustedPaths.IsSafeName(entry.Name))
            {
                throw new InvalidDataException($"Unsafe name {UntrustedPaths.Quote(shown)} in {source}: refused (empty, '.', '..', or holding '/', '\\' or NUL).");
            }

            var path = UntrustedPaths.EnsureInside(root, Path.Combine(folder, entry.Name), shown, source);
            switch (entry.Mode)
            {
                case Mode.Directory when entry.Target is Tree subtree:
                    Write(subtree, shown, path, depth + 1);
                    break;
                case Mode.NonExecutableFile or Mode.NonExecutableGroupWritableFile or Mode.ExecutableFile when entry.Target is Blob blob:
                    WriteFile(blob, path, shown);
                    break;
                default:
                    throw new InvalidDataException($"{UntrustedPaths.Quote(shown)} in {source} is a {entry.Mode}, not a file or folder: refused.");
            }
        }
    }

    private void WriteFile(Blob blob, string path, string shown)
    {
        var size = repository.ObjectDatabase.RetrieveObjectMetadata(blob.Id).Size;
        if (size > MaxFileBytes)
        {
            throw new InvalidDataException($"{UntrustedPaths.Quote(shown)} in {source} is {size} bytes, over the {MaxFileBytes}-byte limit: refused.");
        }

        using var content = blob.GetContentStream();
        // CreateNew: two entries that map to one file (a crafted tree, a case-insensitive disk) never overwrite each other.
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
        content.CopyTo(file);
    }
}

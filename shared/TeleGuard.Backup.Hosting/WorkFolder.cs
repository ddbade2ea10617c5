namespace TeleGuard.Backup.Hosting;

/// <summary>
/// A folder for one message's temporary files under <c>SNAPSHOT_DIR/&lt;area&gt;</c>, deleted when disposed. A folder is in
/// use while its lock file next to it is held (an exclusive file lock, which the operating system releases when the
/// process dies), so each <see cref="Create"/> first deletes the folders of its area whose lock nobody holds: what a
/// crashed or killed process left behind, never the work of another live process sharing the volume.
/// </summary>
public sealed class WorkFolder : IDisposable
{
    private const string LockSuffix = ".lock";
    private readonly FileStream _lock;

    private WorkFolder(string path, FileStream held)
    {
        Path = path;
        _lock = held;
    }

    public string Path { get; }

    public static WorkFolder Create(string root, string area, string name)
    {
        var parent = System.IO.Path.Combine(root, area);
        Directory.CreateDirectory(parent);
        RemoveAbandoned(parent);
        var path = System.IO.Path.Combine(parent, $"{name}.{Guid.NewGuid():N}");
        var held = new FileStream(path + LockSuffix, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        Directory.CreateDirectory(path);
        return new WorkFolder(path, held);
    }

    public void Dispose()
    {
        // Folder first, lock file last: a folder without its lock file is always abandoned.
        DeleteFolder(Path);
        File.Delete(Path + LockSuffix);
        _lock.Dispose();
    }

    private static void RemoveAbandoned(string parent)
    {
        foreach (var folder in Directory.GetDirectories(parent))
        {
            var lockFile = folder + LockSuffix;
            FileStream held;
            try
            {
                held = new FileStream(lockFile, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            }
            catch (FileNotFoundException)
            {
                DeleteFolder(folder); // no lock file: left by a process that died while deleting it
                continue;
            }
            catch (IOException)
            {
                continue; // in use
            }

            using (held)
            {
                DeleteFolder(folder);
                File.Delete(lockFile);
            }
        }
    }

    private static void DeleteFolder(string folder)
    {
        try
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Deleted by another sweep meanwhile, or not deletable now: the next sweep tries again.
        }
    }
}

using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.GitHub.Tests;

/// <summary>Per-message work folders under SNAPSHOT_DIR: deleted when done, and when a killed process left them behind.</summary>
public sealed class WorkFolderTests : IDisposable
{
    private readonly TemporaryDirectory _root = new();

    public void Dispose() => _root.Dispose();

    [Fact]
    public void The_next_message_deletes_folders_nobody_holds_and_never_one_in_use()
    {
        var area = Path.Combine(_root.Path, "github");
        using var inUse = WorkFolder.Create(_root.Path, "github", "20261126T010000Z");
        File.WriteAllText(Path.Combine(inUse.Path, "artifact.tar"), "in use");

        // What a process killed mid-message leaves: its folder and lock file (released by the kernel), or a folder whose
        // lock file it had already deleted.
        var killed = Path.Combine(area, "20261126T000000Z.0123");
        Directory.CreateDirectory(killed);
        File.WriteAllText(killed + ".lock", "");
        File.WriteAllText(Path.Combine(killed, "artifact.tar"), "left behind");
        var unlocked = Path.Combine(area, "20261125T230000Z.4567");
        Directory.CreateDirectory(unlocked);

        using (var next = WorkFolder.Create(_root.Path, "github", "20261126T020000Z"))
        {
            Assert.True(Directory.Exists(next.Path));
            Assert.False(Directory.Exists(killed));
            Assert.False(File.Exists(killed + ".lock"));
            Assert.False(Directory.Exists(unlocked));
            Assert.Equal("in use", File.ReadAllText(Path.Combine(inUse.Path, "artifact.tar")));
        }

        inUse.Dispose();
        Assert.Empty(Directory.EnumerateFileSystemEntries(area));
    }
}

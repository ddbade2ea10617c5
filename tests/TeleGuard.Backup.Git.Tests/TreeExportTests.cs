using System.Text;
using LibGit2Sharp;
using Microsoft.Extensions.Logging.Abstractions;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Git.Tests;

/// <summary>
/// A branch whose tree was crafted with git plumbing and pushed to the real server, as anyone with push access could:
/// exporting it is refused, and nothing appears outside the export folder.
/// </summary>
public sealed class TreeExportTests : IDisposable
{
    private const string Id = "20261126T040000Z";
    private readonly TemporaryDirectory _work = new();
    private readonly GitServer _server = GitServer.FromEnvironment();

    public void Dispose() => _work.Dispose();

    [Theory]
    [InlineData("../evil", "Unsafe name")]
    [InlineData("../../../evil", "Unsafe name")]
    [InlineData("..", "Unsafe name")]
    [InlineData(".", "Unsafe name")]
    [InlineData("a/b", "Unsafe name")]
    [InlineData("a\\b", "Unsafe name")]
    [InlineData("/evil", "Unsafe name")]
    [InlineData("symbolic link", "is a SymbolicLink, not a file or folder")]
    [InlineData("submodule", "is a GitLink, not a file or folder")]
    [InlineData("40 folders deep", "deeper than 32 levels")]
    public void A_crafted_entry_is_refused_and_nothing_is_written_outside_the_export_folder(string entry, string expected)
    {
        var (url, _) = _server.CreateRepository();
        var writer = new GitBranchWriter(new GitRemote(url, "backups", _server.User, _server.Token), Path.Combine(_work.Path, "clones"), NullLogger.Instance);
        writer.CommitSnapshot(Id, "snapshot", DateTimeOffset.UtcNow, (repository, _) =>
        {
            var tree = new TreeDefinition();
            tree.Add("snapshot/manifest.json", repository.ObjectDatabase.CreateBlob(new MemoryStream("{}"u8.ToArray())), Mode.NonExecutableFile);
            return tree;
        }, SnapshotPlacement.InDataOrder);

        var git = GitPlumbing.Clone(_server, url, "backups", Path.Combine(_work.Path, "mallory.git"));
        var evil = git.WriteBlob("evil"u8.ToArray());
        var snapshot = git.ReadTree("backups:snapshot");
        switch (entry)
        {
            case "..":
            case ".":
                snapshot.With(RawGitTree.Folder, entry, git.WriteTree(new RawGitTree().With(RawGitTree.File, "evil", evil)));
                break;
            case "symbolic link":
                snapshot.With(RawGitTree.SymbolicLink, "evil", git.WriteBlob(Encoding.UTF8.GetBytes(_work.Path)));
                break;
            case "submodule":
                snapshot.With(RawGitTree.Submodule, "evil", git.Head);
                break;
            case "40 folders deep":
                var folder = git.WriteTree(new RawGitTree().With(RawGitTree.File, "evil", evil));
                for (var i = 0; i < 40; i++)
                {
                    folder = git.WriteTree(new RawGitTree().With(RawGitTree.Folder, "d", folder));
                }

                snapshot.With(RawGitTree.Folder, "d", folder);
                break;
            default:
                snapshot.With(RawGitTree.File, entry, evil);
                break;
        }

        git.PushCommit(git.WriteTree(git.ReadTree().With(RawGitTree.Folder, "snapshot", git.WriteTree(snapshot))), $"tampered\n\nSnapshot-Id: {Id}");

        var sandbox = Path.Combine(_work.Path, "sandbox");
        var destination = Path.Combine(sandbox, "a", "b", "export");
        Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
        var error = Assert.Throws<InvalidDataException>(() => writer.ExportTree(Id, "snapshot", destination));
        Assert.Contains(expected, error.Message);
        Assert.Contains("refused", error.Message);
        Assert.DoesNotContain('\n', error.Message);

        // Outside the export folder the sandbox holds exactly the folders leading to it.
        var outside = Directory.EnumerateFileSystemEntries(sandbox, "*", SearchOption.AllDirectories)
            .Where(path => path != destination && !path.StartsWith(destination + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            .Select(path => Path.GetRelativePath(sandbox, path))
            .Order(StringComparer.Ordinal);
        Assert.Equal(["a", Path.Combine("a", "b")], outside);
    }

    [Fact]
    public void An_honest_tree_exports_byte_for_byte_and_only_into_an_empty_folder()
    {
        var (url, _) = _server.CreateRepository();
        var writer = new GitBranchWriter(new GitRemote(url, "backups", _server.User, _server.Token), Path.Combine(_work.Path, "clones"), NullLogger.Instance);
        var content = new byte[300_000];
        new Random(3).NextBytes(content);
        writer.CommitSnapshot(Id, "snapshot", DateTimeOffset.UtcNow, (repository, _) =>
        {
            var tree = new TreeDefinition();
            tree.Add("snapshot/manifest.json", repository.ObjectDatabase.CreateBlob(new MemoryStream("{}"u8.ToArray())), Mode.NonExecutableFile);
            tree.Add("snapshot/collections/..users/part-0001.jsonl", repository.ObjectDatabase.CreateBlob(new MemoryStream(content)), Mode.NonExecutableFile);
            return tree;
        }, SnapshotPlacement.InDataOrder);

        var destination = Path.Combine(_work.Path, "export");
        Assert.Equal(Id, writer.ExportTree(Id, "snapshot", destination));
        Assert.Equal(content, File.ReadAllBytes(Path.Combine(destination, "collections", "..users", "part-0001.jsonl")));
        Assert.Equal("{}", File.ReadAllText(Path.Combine(destination, "manifest.json")));

        Assert.Throws<IOException>(() => writer.ExportTree(Id, "snapshot", destination));
    }
}

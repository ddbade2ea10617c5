using System.Security.Cryptography;
using MongoDB.Driver;
using TeleGuard.Backup.Destinations.Public;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Cli.Tests;

/// <summary>
/// Trees and index.json entries crafted with git plumbing and pushed to the git server, as anyone with push access
/// could: <c>restore</c> exits 1 naming the path, and nothing appears (or is read) outside its work folder. The
/// commands run with TMPDIR three folders deep in a sandbox, so every parent folder an escape could reach is checked.
/// </summary>
public sealed class UntrustedPathTests : IDisposable
{
    private readonly TemporaryDirectory _work = new();

    public void Dispose() => _work.Dispose();

    private string Sandbox => Path.Combine(_work.Path, "sandbox");

    private string Temporary => Path.Combine(Sandbox, "x", "y", "tmp");

    [Fact]
    public async Task Restore_from_github_refuses_a_tree_entry_that_leaves_its_folder_and_writes_nothing_outside_it()
    {
        var destinations = await GitDestinations.CreateAsync(_work.Path, Temporary);
        var id = await destinations.SnapshotAsync();
        var git = destinations.Clone("backups", Path.Combine(_work.Path, "mallory.git"));
        var evil = git.WriteBlob("evil"u8.ToArray());
        var honest = git.Head;
        var targetUri = await TestServices.MongoUriAsync();

        foreach (var (name, mode) in new[] { ("../evil", RawGitTree.File), ("../../../../evil", RawGitTree.File), ("..", RawGitTree.Folder), ("a/b", RawGitTree.File) })
        {
            var target = mode == RawGitTree.Folder ? git.WriteTree(new RawGitTree().With(RawGitTree.File, "evil", evil)) : evil;
            var snapshot = git.ReadTree($"{honest}:snapshot").With(mode, name, target);
            var root = git.ReadTree($"{honest}^{{tree}}").With(RawGitTree.Folder, "snapshot", git.WriteTree(snapshot));
            git.PushCommit(git.WriteTree(root), $"Snapshot {id}\n\nSnapshot-Id: {id}");

            var before = Listing();
            var restore = await destinations.RunAsync("restore", "--from", "github", "--snapshot", id, "--to-uri", targetUri);
            Assert.True(restore.ExitCode == 1, $"{name}:\n{restore.Output}");
            Assert.Contains($"Unsafe name \"snapshot/{name}\"", restore.Output);
            Assert.Equal(before, Listing());
            Assert.Empty(await (await Database(targetUri).ListCollectionNamesAsync()).ToListAsync());
        }
    }

    [Fact]
    public async Task Restore_from_public_refuses_an_index_path_that_leaves_its_folder_even_when_the_file_there_is_genuine()
    {
        var destinations = await GitDestinations.CreateAsync(_work.Path, Temporary);
        var id = await destinations.SnapshotAsync();
        var git = destinations.Clone("public-snapshots", Path.Combine(_work.Path, "mallory.git"));

        // The genuine file, where "../x.tgb" leads from the download folder (a sibling of the restore's work folder).
        var file = git.ReadBlob($"snapshots/{id}.tgb");
        await File.WriteAllBytesAsync(Path.Combine(Temporary, "x.tgb"), file);
        var index = PublicIndex.Parse(git.ReadBlob(PublicIndex.FileName));
        var entry = index.Snapshots.Single(s => s.Id == id);
        var crafted = index with { Snapshots = [entry with { Files = [new PublicFile("../x.tgb", file.Length, Convert.ToHexStringLower(SHA256.HashData(file)))] }] };
        git.PushCommit(git.WriteTree(git.ReadTree().With(RawGitTree.File, PublicIndex.FileName, git.WriteBlob(crafted.ToJsonBytes()))),
            $"Encrypted snapshot {id}\n\nSnapshot-Id: {id}");

        var before = Listing();
        var targetUri = await TestServices.MongoUriAsync();
        var restore = await destinations.RunAsync("restore", "--from", "public", "--snapshot", id, "--to-uri", targetUri);
        Assert.True(restore.ExitCode == 1, restore.Output);
        Assert.Contains("index.json lists an unsafe path \"../x.tgb\"", restore.Output);
        Assert.Equal(before, Listing());
        Assert.Empty(await (await Database(targetUri).ListCollectionNamesAsync()).ToListAsync());

        // A crafted entry in the branch's tree is refused the same way.
        var evil = git.WriteBlob("evil"u8.ToArray());
        git.PushCommit(git.WriteTree(git.ReadTree().With(RawGitTree.File, PublicIndex.FileName, git.WriteBlob(index.ToJsonBytes())).With(RawGitTree.File, "../evil", evil)),
            $"Encrypted snapshot {id}\n\nSnapshot-Id: {id}");
        var verify = await destinations.RunAsync("verify", "--from", "public", "--snapshot", id);
        Assert.True(verify.ExitCode == 1, verify.Output);
        Assert.Contains("Unsafe name \"../evil\"", verify.Output);
        Assert.Equal(before, Listing());
    }

    // Everything in the sandbox, files with their content hash: what a command adds or changes anywhere in it shows.
    private string[] Listing() =>
        Directory.EnumerateFileSystemEntries(Sandbox, "*", SearchOption.AllDirectories)
            .Select(path => Path.GetRelativePath(Sandbox, path) + (File.Exists(path) ? " " + Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path))) : "/"))
            .Order(StringComparer.Ordinal)
            .ToArray();

    private static IMongoDatabase Database(string uri) => new MongoClient(uri).GetDatabase(MongoUrl.Create(uri).DatabaseName);
}

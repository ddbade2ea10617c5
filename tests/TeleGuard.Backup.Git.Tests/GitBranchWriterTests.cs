using System.Text;
using LibGit2Sharp;
using Microsoft.Extensions.Logging.Abstractions;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Git.Tests;

/// <summary>Against the real smart-HTTP server; what is on the server is read with the git CLI from its bare repository.</summary>
public sealed class GitBranchWriterTests : IDisposable
{
    private readonly TemporaryDirectory _clones = new();
    private readonly GitServer _server = GitServer.FromEnvironment();

    public void Dispose() => _clones.Dispose();

    private GitBranchWriter Writer(Uri url, string? token = null, string branch = "backups") =>
        new(new GitRemote(url, branch, _server.User, token ?? _server.Token), _clones.Path, NullLogger.Instance);

    // Replaces snapshot/data.txt with the given content, keeping anything else in the tree.
    private static Func<Repository, Tree?, TreeDefinition> Content(string text) => (repository, parent) =>
    {
        var tree = parent is null ? new TreeDefinition() : TreeDefinition.From(parent);
        var blob = repository.ObjectDatabase.CreateBlob(new MemoryStream(Encoding.UTF8.GetBytes(text)));
        tree.Add("snapshot/data.txt", blob, Mode.NonExecutableFile);
        return tree;
    };

    private static List<string> ServerLog(string path, string branch = "backups") =>
        GitServer.Run(path, "log", "--format=%(trailers:key=Snapshot-Id,valueonly)", branch)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();

    private static string ServerFile(string path, string commitish, string file) => GitServer.Run(path, "show", $"{commitish}:{file}");

    [Fact]
    public void Snapshots_become_one_commit_each_on_an_empty_remote_and_a_repeat_finds_the_existing_commit()
    {
        var (url, path) = _server.CreateRepository();
        var writer = Writer(url);
        var when = DateTimeOffset.UtcNow;
        var first = writer.CommitSnapshot("20261126T010000Z", "snapshot 1", when, Content("one"));
        writer.CommitSnapshot("20261126T020000Z", "snapshot 2", when, Content("two"));
        writer.CommitSnapshot("20261126T030000Z", "snapshot 3", when, Content("three"));
        var again = Writer(url).CommitSnapshot("20261126T010000Z", "snapshot 1", when, Content("one"));

        Assert.Equal(["20261126T030000Z", "20261126T020000Z", "20261126T010000Z"], ServerLog(path));
        Assert.True(again.AlreadyPresent);
        Assert.Equal(first.Sha, again.Sha);
        Assert.Equal("one", ServerFile(path, first.Sha, "snapshot/data.txt"));
        Assert.Equal("three", ServerFile(path, "backups", "snapshot/data.txt"));
        // The token is handed over by callback only: it is not in the clone's configuration.
        Assert.DoesNotContain(_server.Token, File.ReadAllText(Path.Combine(writer.ClonePath, "config")));
    }

    [Fact]
    public void A_late_older_snapshot_is_inserted_in_id_order_and_newer_commits_keep_their_content()
    {
        var (url, path) = _server.CreateRepository();
        var writer = Writer(url);
        var replayed = new List<string>();
        writer.CommitSnapshot("20261126T010000Z", "1", DateTimeOffset.UtcNow, Content("one"));
        writer.CommitSnapshot("20261126T030000Z", "3", DateTimeOffset.UtcNow, Content("three"));
        writer.CommitSnapshot("20261126T020000Z", "2", DateTimeOffset.UtcNow, Content("two"), (id, _) => replayed.Add(id));

        Assert.Equal(["20261126T030000Z", "20261126T020000Z", "20261126T010000Z"], ServerLog(path));
        Assert.Equal(["20261126T030000Z"], replayed);
        Assert.Equal("three", ServerFile(path, "backups", "snapshot/data.txt"));
        Assert.Equal("two", ServerFile(path, "backups~1", "snapshot/data.txt"));
    }

    [Fact]
    public void Two_writers_with_separate_clones_never_lose_a_commit()
    {
        var (url, path) = _server.CreateRepository();
        using var otherClones = new TemporaryDirectory();
        var a = Writer(url);
        var b = new GitBranchWriter(new GitRemote(url, "backups", _server.User, _server.Token), otherClones.Path, NullLogger.Instance);
        a.CommitSnapshot("20261126T010000Z", "1", DateTimeOffset.UtcNow, Content("1"));
        b.CommitSnapshot("20261126T020000Z", "2", DateTimeOffset.UtcNow, Content("2")); // b's clone is new: fetches a's commit
        a.CommitSnapshot("20261126T030000Z", "3", DateTimeOffset.UtcNow, Content("3")); // a's clone is behind: fetches first
        Assert.Equal(["20261126T030000Z", "20261126T020000Z", "20261126T010000Z"], ServerLog(path));
    }

    [Fact]
    public void Compaction_leaves_one_parentless_commit_with_the_kept_snapshot_and_other_branches_untouched()
    {
        var (url, path) = _server.CreateRepository();
        var writer = Writer(url);
        Writer(url, branch: "main").CommitSnapshot("20200101T000000Z", "someone else's branch", DateTimeOffset.UtcNow, Content("main"));
        var mainBefore = GitServer.Run(path, "rev-parse", "main").Trim();
        foreach (var hour in new[] { "01", "02", "03" })
        {
            writer.CommitSnapshot($"20261126T{hour}0000Z", hour, DateTimeOffset.UtcNow, Content(hour));
        }

        var orphan = writer.Compact("20261126T030000Z", "compacted");
        Assert.NotNull(orphan);
        Assert.Equal(orphan, GitServer.Run(path, "rev-parse", "backups").Trim());
        Assert.Equal("1", GitServer.Run(path, "rev-list", "--count", "backups").Trim());
        Assert.Equal("", GitServer.Run(path, "log", "-1", "--format=%P", "backups").Trim());
        Assert.Equal("03", ServerFile(path, "backups", "snapshot/data.txt"));
        Assert.Equal(mainBefore, GitServer.Run(path, "rev-parse", "main").Trim());

        Assert.Null(writer.Compact("20261126T990000Z", "unknown snapshot: nothing changes"));
        Assert.Equal(orphan, GitServer.Run(path, "rev-parse", "backups").Trim());
    }

    [Fact]
    public void A_wrong_token_fails_permanently_without_the_token_in_the_message()
    {
        var (url, _) = _server.CreateRepository();
        const string wrong = "ghs_wrongTokenCanary0000000000000000000";
        var error = Assert.Throws<GitPermanentException>(() =>
            Writer(url, token: wrong).CommitSnapshot("20261126T010000Z", "1", DateTimeOffset.UtcNow, Content("x")));
        Assert.Contains("Authentication", error.Message);
        Assert.DoesNotContain(wrong, error.ToString());
    }

    [Fact]
    public void A_corrupt_working_clone_is_recreated()
    {
        var (url, path) = _server.CreateRepository();
        var writer = Writer(url);
        writer.CommitSnapshot("20261126T010000Z", "1", DateTimeOffset.UtcNow, Content("1"));
        foreach (var file in Directory.EnumerateFiles(Path.Combine(writer.ClonePath, "objects"), "*", SearchOption.AllDirectories))
        {
            File.Delete(file);
        }

        File.WriteAllText(Path.Combine(writer.ClonePath, "HEAD"), "garbage");
        writer.CommitSnapshot("20261126T020000Z", "2", DateTimeOffset.UtcNow, Content("2"));
        Assert.Equal(["20261126T020000Z", "20261126T010000Z"], ServerLog(path));
    }
}

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

    private static readonly DateTimeOffset Hour = new(2026, 11, 26, 0, 0, 0, TimeSpan.Zero);

    // A snapshot whose data was read at the given hour, in data order with rewriting allowed (the branch lock is held).
    private static SnapshotCommit Commit(GitBranchWriter writer, string id, double dataHour, string text,
        SnapshotPlacement placement = SnapshotPlacement.InDataOrder) =>
        writer.CommitSnapshot(id, $"snapshot {id}", Hour.AddHours(dataHour), Content(text), placement);

    private static List<string> ServerLog(string path, string branch = "backups") =>
        GitServer.Run(path, "log", "--format=%(trailers:key=Snapshot-Id,valueonly)", branch)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();

    private static string ServerFile(string path, string commitish, string file) => GitServer.Run(path, "show", $"{commitish}:{file}");

    // Adds increments/NAME (as the GitHub sink files an increment) to the head's tree.
    private static IncrementCommit Increment(GitBranchWriter writer, string id) =>
        writer.CommitIncrement(id, $"increment {id}", Hour, (repository, parent) =>
        {
            var tree = parent is null ? new TreeDefinition() : TreeDefinition.From(parent);
            tree.Add($"increments/{id}", repository.ObjectDatabase.CreateBlob(new MemoryStream(Encoding.UTF8.GetBytes(id))), Mode.NonExecutableFile);
            return tree;
        });

    [Fact]
    public void Increment_commits_go_on_top_once_and_a_snapshot_goes_above_them_without_a_rewrite_or_below_a_newer_snapshot_with_them()
    {
        var (url, path) = _server.CreateRepository();
        var writer = Writer(url);
        Commit(writer, "20261126T010000Z", 1, "one");
        var first = Increment(writer, "i1");
        Assert.False(first.AlreadyPresent);
        Assert.Equal(first.Sha, Increment(Writer(url), "i1").Sha); // found by its trailer: no second commit
        Increment(writer, "i2");

        // The next hour's snapshot goes on top of the increments committed meanwhile: a fast-forward, allowed without the lock.
        var third = Commit(writer, "20261126T030000Z", 3, "three", SnapshotPlacement.InDataOrderWithoutRewrite);
        Assert.False(third.Rewrote);
        Increment(writer, "i3");
        Assert.Equal("three", ServerFile(path, "backups", "snapshot/data.txt"));

        // A late snapshot of older data goes below the newer one and the increments above it; the head keeps every increment.
        var second = Commit(writer, "20261126T020000Z", 2, "two");
        Assert.True(second.Rewrote);
        var order = GitServer.Run(path, "log", "--format=%(trailers:key=Snapshot-Id,valueonly,separator=)%(trailers:key=Increment-Id,valueonly,separator=)", "backups")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["i3", "20261126T030000Z", "20261126T020000Z", "i2", "i1", "20261126T010000Z"], order);
        Assert.Equal("three", ServerFile(path, "backups", "snapshot/data.txt"));
        Assert.Equal("two", ServerFile(path, second.Sha, "snapshot/data.txt"));
        Assert.Equal("i1\ni2\ni3\n", GitServer.Run(path, "ls-tree", "--name-only", "backups", "increments/").Replace("increments/", ""));
        Assert.Equal(["20261126T030000Z", "20261126T020000Z", "20261126T010000Z"], writer.History().Select(c => c.SnapshotId));
        // latest is the newest snapshot commit below the increments on top.
        var latest = Path.Combine(_clones.Path, "latest");
        Assert.Equal("20261126T030000Z", writer.ExportTree(null, "snapshot", latest));
        Assert.Equal("three", File.ReadAllText(Path.Combine(latest, "data.txt")));
    }

    [Fact]
    public void Snapshots_become_one_commit_each_on_an_empty_remote_and_a_repeat_finds_the_existing_commit()
    {
        var (url, path) = _server.CreateRepository();
        var writer = Writer(url);
        var first = Commit(writer, "20261126T010000Z", 1, "one");
        Commit(writer, "20261126T020000Z", 2, "two");
        Commit(writer, "20261126T030000Z", 3, "three");
        var again = Commit(Writer(url), "20261126T010000Z", 1, "one");

        Assert.Equal(["20261126T030000Z", "20261126T020000Z", "20261126T010000Z"], ServerLog(path));
        Assert.True(again.AlreadyPresent);
        Assert.Equal(first.Sha, again.Sha);
        Assert.Equal("one", ServerFile(path, first.Sha, "snapshot/data.txt"));
        Assert.Equal("three", ServerFile(path, "backups", "snapshot/data.txt"));
        // The token is handed over by callback only: it is not in the clone's configuration.
        Assert.DoesNotContain(_server.Token, File.ReadAllText(Path.Combine(writer.ClonePath, "config")));
    }

    [Fact]
    public void A_late_snapshot_with_older_data_is_inserted_below_newer_data_and_newer_commits_keep_their_content()
    {
        var (url, path) = _server.CreateRepository();
        var writer = Writer(url);
        Commit(writer, "20261126T010000Z", 1, "one");
        Commit(writer, "20261126T030000Z", 3, "three");
        var late = Commit(writer, "20261126T020000Z", 2, "two");

        Assert.True(late.Rewrote);
        Assert.Equal(["20261126T030000Z", "20261126T020000Z", "20261126T010000Z"], ServerLog(path));
        Assert.Equal("three", ServerFile(path, "backups", "snapshot/data.txt"));
        Assert.Equal("two", ServerFile(path, "backups~1", "snapshot/data.txt"));
        Assert.Contains("Data-Time: 2026-11-26T03:00:00.0000000Z", GitServer.Run(path, "log", "-1", "--format=%B", "backups"));
    }

    [Fact]
    public void A_catch_up_snapshot_of_an_earlier_slot_holding_newer_data_goes_on_top_of_a_manual_one()
    {
        var (url, path) = _server.CreateRepository();
        var writer = Writer(url);
        Commit(writer, "20261126T120000Z", 12, "noon");
        Commit(writer, "20261126T132000Z", 13 + 20 / 60.0, "manual at 13:20"); // a manual snapshot
        var catchUp = Commit(writer, "20261126T130000Z", 13 + 37 / 60.0, "slot 13:00 taken at 13:37");

        Assert.False(catchUp.Rewrote);
        Assert.Equal(["20261126T130000Z", "20261126T132000Z", "20261126T120000Z"], ServerLog(path));
        Assert.Equal("slot 13:00 taken at 13:37", ServerFile(path, "backups", "snapshot/data.txt"));
    }

    [Fact]
    public void Without_the_branch_lock_a_snapshot_on_top_is_pushed_and_one_below_newer_data_is_refused_leaving_the_branch_as_it_was()
    {
        var (url, path) = _server.CreateRepository();
        var writer = Writer(url);
        Commit(writer, "20261126T010000Z", 1, "one", SnapshotPlacement.InDataOrderWithoutRewrite);
        Commit(writer, "20261126T030000Z", 3, "three", SnapshotPlacement.InDataOrderWithoutRewrite);
        var head = GitServer.Run(path, "rev-parse", "backups").Trim();

        var refused = Assert.Throws<GitRewriteNeedsLockException>(() =>
            Commit(writer, "20261126T020000Z", 2, "two", SnapshotPlacement.InDataOrderWithoutRewrite));
        Assert.Contains("Snapshot 20261126T020000Z holds older data", refused.Message);
        Assert.Equal(head, GitServer.Run(path, "rev-parse", "backups").Trim());
        Assert.Equal(["20261126T030000Z", "20261126T010000Z"], ServerLog(path));
    }

    [Fact]
    public void On_top_placement_ignores_data_order_and_never_rewrites()
    {
        var (url, path) = _server.CreateRepository();
        var writer = Writer(url);
        Commit(writer, "20261126T030000Z", 3, "three", SnapshotPlacement.OnTop);
        var late = Commit(writer, "20261126T020000Z", 2, "two", SnapshotPlacement.OnTop);
        Assert.False(late.Rewrote);
        Assert.Equal(["20261126T020000Z", "20261126T030000Z"], ServerLog(path));
    }

    [Fact]
    public async Task A_compaction_whose_branch_moved_between_fetch_and_push_keeps_the_other_writers_commit()
    {
        var (url, path) = _server.CreateRepository();
        await using var proxy = FaultProxy.For(url.ToString());
        using var otherClones = new TemporaryDirectory();
        var compacting = Writer(new Uri(proxy.Through(url.ToString())));
        var other = new GitBranchWriter(new GitRemote(url, "backups", _server.User, _server.Token), otherClones.Path, NullLogger.Instance);
        Commit(other, "20261126T010000Z", 1, "one");
        Commit(other, "20261126T020000Z", 2, "two");

        // The compaction fetches, builds its orphan and starts pushing; its push is held on the wire while the other writer
        // pushes snapshot 3 on top (a fast-forward push, as an instance without Redis makes).
        var held = proxy.HoldNextRequestContaining("service=git-receive-pack");
        var compaction = Task.Run(() => compacting.Compact("20261126T020000Z", "compacted"));
        await held.WaitAsync(TimeSpan.FromSeconds(60));
        Commit(other, "20261126T030000Z", 3, "three", SnapshotPlacement.InDataOrderWithoutRewrite);
        proxy.ReleaseHeld();
        var result = await compaction.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.NotNull(result);
        Assert.Equal(["20261126T030000Z", "20261126T020000Z"], ServerLog(path));
        Assert.Equal("three", ServerFile(path, "backups", "snapshot/data.txt"));
        Assert.Equal(result.Sha, GitServer.Run(path, "rev-parse", "backups~1").Trim());
        Assert.Equal("", GitServer.Run(path, "log", "-1", "--format=%P", "backups~1").Trim());
        Assert.Equal(["20261126T010000Z"], result.RemovedSnapshotIds);
    }

    [Fact]
    public void The_working_clone_never_holds_much_more_than_twice_what_the_branch_head_holds()
    {
        var (url, _) = _server.CreateRepository();
        var writer = Writer(url);
        var random = new Random(7);
        var text = new byte[512 * 1024];
        long largest = 0;
        for (var hour = 1; hour <= 12; hour++)
        {
            random.NextBytes(text); // incompressible, all new every hour: the clone would grow by 512 KiB each time
            Commit(writer, $"20261126T{hour:D2}0000Z", hour, Convert.ToBase64String(text));
            largest = Math.Max(largest, DirectorySize(writer.ClonePath));
        }

        var head = Convert.ToBase64String(text).Length;
        Assert.True(largest <= GitBranchWriter.CloneSizeFactor * head + 1024 * 1024,
            $"the clone held {largest} bytes for a branch head of {head} bytes");
    }

    [Fact]
    public void Two_writers_with_separate_clones_never_lose_a_commit()
    {
        var (url, path) = _server.CreateRepository();
        using var otherClones = new TemporaryDirectory();
        var a = Writer(url);
        var b = new GitBranchWriter(new GitRemote(url, "backups", _server.User, _server.Token), otherClones.Path, NullLogger.Instance);
        Commit(a, "20261126T010000Z", 1, "1");
        Commit(b, "20261126T020000Z", 2, "2"); // b's clone is new: fetches a's commit
        Commit(a, "20261126T030000Z", 3, "3"); // a's clone is behind: fetches first
        Assert.Equal(["20261126T030000Z", "20261126T020000Z", "20261126T010000Z"], ServerLog(path));
    }

    [Fact]
    public void Compaction_leaves_one_parentless_commit_with_the_kept_snapshot_and_other_branches_untouched()
    {
        var (url, path) = _server.CreateRepository();
        var writer = Writer(url);
        Commit(Writer(url, branch: "main"), "20200101T000000Z", 0, "main");
        var mainBefore = GitServer.Run(path, "rev-parse", "main").Trim();
        foreach (var hour in new[] { "01", "02", "03" })
        {
            Commit(writer, $"20261126T{hour}0000Z", int.Parse(hour), hour);
        }

        var orphan = writer.Compact("20261126T030000Z", "compacted")?.Sha;
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
            Commit(Writer(url, token: wrong), "20261126T010000Z", 1, "x"));
        Assert.Contains("Authentication", error.Message);
        Assert.DoesNotContain(wrong, error.ToString());
    }

    [Fact]
    public void A_corrupt_working_clone_is_recreated()
    {
        var (url, path) = _server.CreateRepository();
        var writer = Writer(url);
        Commit(writer, "20261126T010000Z", 1, "1");
        foreach (var file in Directory.EnumerateFiles(Path.Combine(writer.ClonePath, "objects"), "*", SearchOption.AllDirectories))
        {
            File.Delete(file);
        }

        File.WriteAllText(Path.Combine(writer.ClonePath, "HEAD"), "garbage");
        Commit(writer, "20261126T020000Z", 2, "2");
        Assert.Equal(["20261126T020000Z", "20261126T010000Z"], ServerLog(path));
    }

    private static long DirectorySize(string path) =>
        Directory.Exists(path) ? Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length) : 0;
}

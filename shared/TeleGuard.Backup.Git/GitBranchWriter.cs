using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using LibGit2Sharp;
using Microsoft.Extensions.Logging;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace TeleGuard.Backup.Git;

/// <summary>
/// Writes commits to one branch of a remote repository, one commit per snapshot, from a bare working clone under a local
/// directory (kept across restarts, recreated when it is corrupt or has grown too large). Each commit carries a
/// <c>Snapshot-Id:</c> trailer, so a snapshot already on the branch is found and reported instead of committed again,
/// and a <c>Data-Time:</c> trailer (when the snapshot's data was read), by which the branch is kept in order: the head
/// is the newest data. Other branches are never touched.
/// <para>
/// Every push is a compare-and-swap on the branch, as git's <c>--force-with-lease</c>: it goes through only while the
/// branch is still at the commit this writer read and built on. libgit2 has no such option, so the writer checks the
/// branch's value that the server advertises for the push against the one it read (in the push negotiation callback,
/// before anything is sent); the server then applies the update only if the branch still has that advertised value
/// (receive-pack's old-value check). A branch that moved is fetched again and the commit rebuilt on the new head, so a
/// force push (insertion below newer data, compaction, orphan replacement) never drops a commit it did not read.
/// </para>
/// <para>
/// One process at a time uses a clone (an exclusive file lock next to it): services sharing a volume, or a sink's
/// commit and cleanup running together, never write into the same clone at once.
/// </para>
/// </summary>
public sealed partial class GitBranchWriter(GitRemote remote, string cloneRoot, ILogger logger)
{
    public const string SnapshotTrailer = "Snapshot-Id: ";
    public const string DataTimeTrailer = "Data-Time: ";
    public const string IncrementTrailer = "Increment-Id: ";
    private const int PushAttempts = 5;
    private const int HistoryScanLimit = 500;

    /// <summary>
    /// libgit2 cannot garbage-collect, so a clone keeps every object it ever wrote or fetched. Once it holds more than
    /// this many times what the branch head holds (plus <see cref="CloneSlackBytes"/>), it is deleted and fetched anew
    /// on next use: a fresh fetch is one packed copy of the branch.
    /// </summary>
    public const int CloneSizeFactor = 2;
    private const long CloneSlackBytes = 1024 * 1024;

    private static readonly Signature Author = new("TeleGuard Backup", "backup@teleguard.invalid", DateTimeOffset.UnixEpoch);

    private string RemoteRef => $"refs/remotes/origin/{remote.Branch}";
    private string LocalRef => $"refs/heads/{remote.Branch}";

    /// <summary>Where the bare clone of this repository and branch lives.</summary>
    public string ClonePath { get; } = Path.Combine(cloneRoot, "git",
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{remote.RepositoryUrl}#{remote.Branch}")))[..16]);

    /// <summary>The Redis lock of this repository and branch, the same in every instance (the clone folder's name is their hash).</summary>
    public string BranchLockKey => $"git:{Path.GetFileName(ClonePath)}";

    /// <summary>
    /// Commits <paramref name="snapshotId"/> with the tree that <paramref name="buildTree"/> makes from the parent's tree
    /// (null for the first commit), placed as <paramref name="placement"/> says. Returns the commit, or the existing one
    /// when the snapshot is already on the branch. When newer commits were replayed on top (they get new SHAs),
    /// <see cref="SnapshotCommit.Rewrote"/> is true.
    /// </summary>
    public SnapshotCommit CommitSnapshot(
        string snapshotId, string message, DateTimeOffset dataTime, Func<Repository, Tree?, TreeDefinition> buildTree,
        SnapshotPlacement placement, CancellationToken cancellationToken = default)
    {
        using var cloneLock = LockClone(cancellationToken);
        for (var attempt = 1; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            long budget;
            SnapshotCommit result;
            using (var repository = OpenFetched())
            {
                var head = RemoteHead(repository);
                if (FindSnapshot(head, snapshotId) is { } existing)
                {
                    return new SnapshotCommit(snapshotId, existing.Sha, AlreadyPresent: true, Rewrote: false);
                }

                var (parent, newer) = placement == SnapshotPlacement.OnTop ? (head, new List<Commit>()) : PlaceInDataOrder(head, dataTime, snapshotId);

                if (newer.Count > 0 && placement == SnapshotPlacement.InDataOrderWithoutRewrite)
                {
                    throw new GitRewriteNeedsLockException(
                        $"Snapshot {snapshotId} holds older data than the head of {remote}: it goes below {newer.Count} newer snapshots, which rewrites the branch, and the branch lock is not held.");
                }

                var signature = new Signature(Author.Name, Author.Email, dataTime);
                var tree = repository.ObjectDatabase.CreateTree(buildTree(repository, parent?.Tree));
                var commit = repository.ObjectDatabase.CreateCommit(signature, signature, WithTrailers(message, snapshotId, dataTime), tree,
                    parent is null ? [] : [parent], prettifyMessage: false);
                var tip = Replay(repository, commit, newer);
                if (newer.Count > 0)
                {
                    LogInsertedBelowNewer(logger, snapshotId, remote, newer.Count);
                }

                if (!TryPush(repository, tip, head, force: newer.Count > 0, attempt))
                {
                    continue;
                }

                budget = CloneBudget(repository, tip);
                result = new SnapshotCommit(snapshotId, commit.Sha, AlreadyPresent: false, Rewrote: newer.Count > 0);
            }

            KeepCloneWithin(budget);
            return result;
        }
    }

    /// <summary>
    /// Replaces the branch with one commit without parents holding the tree of <paramref name="keepSnapshotId"/>'s commit,
    /// with the commits above it (newer data) replayed on top. Returns the new parentless commit and the snapshots whose
    /// commits are no longer on the branch, or null when that snapshot is not on the branch (nothing is changed then).
    /// A force push: call it only while holding the branch lock.
    /// </summary>
    /// <param name="filesToRemove">
    /// Given the head's tree (which holds every file the branch's commits added since), the files (paths from the root)
    /// that no commit of the compacted branch keeps: they are taken out of the parentless commit's tree and of every
    /// commit replayed on top.
    /// </param>
    public CompactionResult? Compact(string keepSnapshotId, string message, Func<Repository, Tree, IReadOnlyCollection<string>>? filesToRemove = null,
        CancellationToken cancellationToken = default)
    {
        using var cloneLock = LockClone(cancellationToken);
        for (var attempt = 1; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            CompactionResult result;
            using (var repository = OpenFetched())
            {
                var head = RemoteHead(repository);
                var keep = FindSnapshot(head, keepSnapshotId);
                if (keep is null)
                {
                    return null;
                }

                if (keep.Sha == head!.Sha && !head.Parents.Any())
                {
                    return new CompactionResult(head.Sha, []); // already compacted to exactly this
                }

                var newer = new List<Commit>();
                for (var c = head; c.Sha != keep.Sha; c = c.Parents.First())
                {
                    newer.Insert(0, c);
                }

                var removed = new List<string>();
                for (var c = keep.Parents.FirstOrDefault(); c is not null; c = c.Parents.FirstOrDefault())
                {
                    if (SnapshotIdOf(c) is { } id)
                    {
                        removed.Add(id);
                    }
                }

                var remove = filesToRemove?.Invoke(repository, head.Tree) ?? [];
                var dataTime = DataTimeOf(keep);
                var signature = new Signature(Author.Name, Author.Email, dataTime);
                var orphan = repository.ObjectDatabase.CreateCommit(signature, signature, WithTrailers(message, keepSnapshotId, dataTime),
                    Without(repository, keep.Tree, remove), [], prettifyMessage: false);
                if (!TryPush(repository, Replay(repository, orphan, newer, tree => Without(repository, tree, remove)), head, force: true, attempt))
                {
                    continue;
                }

                result = new CompactionResult(orphan.Sha, removed);
            }

            DeleteClone(); // everything it held before the orphan is garbage now
            return result;
        }
    }

    /// <summary>
    /// Replaces the branch with one commit without parents whose tree <paramref name="buildTree"/> makes from the current
    /// head's tree (retention on a branch whose files, not history, carry the snapshots). Returns the new commit's SHA.
    /// The commit carries no data time (<paramref name="when"/> is its date): such a branch is not ordered by data.
    /// A force push: call it only while holding the branch lock.
    /// </summary>
    public string ReplaceWithOrphan(string snapshotId, string message, DateTimeOffset when,
        Func<Repository, Tree?, TreeDefinition> buildTree, CancellationToken cancellationToken = default)
    {
        using var cloneLock = LockClone(cancellationToken);
        for (var attempt = 1; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string sha;
            using (var repository = OpenFetched())
            {
                var head = RemoteHead(repository);
                var signature = new Signature(Author.Name, Author.Email, when);
                var tree = repository.ObjectDatabase.CreateTree(buildTree(repository, head?.Tree));
                var orphan = repository.ObjectDatabase.CreateCommit(signature, signature, WithTrailers(message, snapshotId, dataTime: null), tree, [],
                    prettifyMessage: false);
                if (!TryPush(repository, orphan, head, force: true, attempt))
                {
                    continue;
                }

                sha = orphan.Sha;
            }

            DeleteClone();
            return sha;
        }
    }

    /// <summary>The commit of <paramref name="snapshotId"/> on the remote branch, if any (fetches first).</summary>
    public string? FindSnapshotCommit(string snapshotId)
    {
        using var cloneLock = LockClone(CancellationToken.None);
        using var repository = OpenFetched();
        return FindSnapshot(RemoteHead(repository), snapshotId)?.Sha;
    }

    /// <summary>
    /// Writes the files under <paramref name="treePath"/> (empty: the whole tree) of the commit holding
    /// <paramref name="snapshotId"/> (null: the head) into <paramref name="destination"/>, which must be new or empty.
    /// Returns that commit's snapshot id, or null when the branch has no such commit. The tree is untrusted (anyone with
    /// push access can craft one): an entry that is not a plain file or folder, has an unsafe name, or would land outside
    /// <paramref name="destination"/>, a file too large, and a tree too deep or with too many entries throw
    /// <see cref="InvalidDataException"/> (see <see cref="TreeExport"/>); what was written before is left to the caller to delete.
    /// </summary>
    public string? ExportTree(string? snapshotId, string treePath, string destination)
    {
        using var cloneLock = LockClone(CancellationToken.None);
        using var repository = OpenFetched();
        var head = RemoteHead(repository);
        var commit = snapshotId is null ? NewestSnapshot(head) : FindSnapshot(head, snapshotId);
        return commit is null ? null : Export(repository, commit, treePath, destination) ? SnapshotIdOf(commit) : null;
    }

    /// <summary>
    /// <see cref="ExportTree"/> of the branch head (which holds the files committed after the newest snapshot too, such
    /// as increments). Returns false when the head has nothing under <paramref name="treePath"/>.
    /// </summary>
    public bool ExportHeadTree(string treePath, string destination)
    {
        using var cloneLock = LockClone(CancellationToken.None);
        using var repository = OpenFetched();
        return RemoteHead(repository) is { } head && Export(repository, head, treePath, destination);
    }

    private static bool Export(Repository repository, Commit commit, string treePath, string destination)
    {
        var tree = treePath.Length == 0 ? commit.Tree : commit[treePath]?.Target as Tree;
        if (tree is null)
        {
            return false;
        }

        if (Directory.Exists(destination) && Directory.EnumerateFileSystemEntries(destination).Any())
        {
            throw new IOException($"Export folder {destination} is not empty.");
        }

        var root = Path.GetFullPath(destination);
        new TreeExport(repository, root, $"the tree of commit {commit.Sha}").Write(tree, treePath, root, depth: 0);
        return true;
    }

    /// <summary>Reads the remote branch's commits, newest first, leaving out increment commits (fetches first).</summary>
    public IReadOnlyList<BranchCommit> History(int limit = HistoryScanLimit)
    {
        using var cloneLock = LockClone(CancellationToken.None);
        using var repository = OpenFetched();
        var list = new List<BranchCommit>();
        for (var c = RemoteHead(repository); c is not null && list.Count < limit; c = c.Parents.FirstOrDefault())
        {
            if (IncrementIdOf(c) is null)
            {
                list.Add(new BranchCommit(c.Sha, SnapshotIdOf(c), DataTimeOf(c), c.Parents.Count()));
            }
        }

        return list;
    }

    /// <summary>
    /// Commits on top of the branch (a fast-forward push: never a rewrite, so no branch lock is needed) the tree that
    /// <paramref name="buildTree"/> makes from the head's tree, with an <c>Increment-Id:</c> trailer and no snapshot id.
    /// A commit with that trailer already on the branch is returned as it is; otherwise <paramref name="buildTree"/> returns
    /// null when the branch already holds what it would add (a compaction folded the commit in): nothing is pushed then.
    /// </summary>
    public IncrementCommit CommitIncrement(string incrementId, string message, DateTimeOffset when,
        Func<Repository, Tree?, TreeDefinition?> buildTree, CancellationToken cancellationToken = default)
    {
        using var cloneLock = LockClone(cancellationToken);
        for (var attempt = 1; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            long budget;
            IncrementCommit result;
            using (var repository = OpenFetched())
            {
                var head = RemoteHead(repository);
                if (FindIncrement(head, incrementId) is { } existing)
                {
                    return new IncrementCommit(existing.Sha, AlreadyPresent: true);
                }

                var definition = buildTree(repository, head?.Tree);
                if (definition is null)
                {
                    return new IncrementCommit(head?.Sha ?? "", AlreadyPresent: true);
                }

                var signature = new Signature(Author.Name, Author.Email, when);
                var commit = repository.ObjectDatabase.CreateCommit(signature, signature,
                    $"{message.TrimEnd()}\n\n{IncrementTrailer}{incrementId}\n", repository.ObjectDatabase.CreateTree(definition),
                    head is null ? [] : [head], prettifyMessage: false);
                if (!TryPush(repository, commit, head, force: false, attempt))
                {
                    continue;
                }

                budget = CloneBudget(repository, commit);
                result = new IncrementCommit(commit.Sha, AlreadyPresent: false);
            }

            KeepCloneWithin(budget);
            return result;
        }
    }

    /// <summary>
    /// Reads the file at <paramref name="path"/> of every snapshot commit on the branch (newest first; fetches first):
    /// the snapshot id and the file's bytes, or null bytes when the commit has no such file or it is over
    /// <paramref name="maxBytes"/> (checked on the object's header before it is loaded).
    /// </summary>
    public IReadOnlyList<(string SnapshotId, byte[]? Content)> ReadFileOfEachSnapshot(string path, long maxBytes)
    {
        using var cloneLock = LockClone(CancellationToken.None);
        using var repository = OpenFetched();
        var found = new List<(string, byte[]?)>();
        var scanned = 0;
        for (var c = RemoteHead(repository); c is not null && scanned < HistoryScanLimit; c = c.Parents.FirstOrDefault())
        {
            if (IncrementIdOf(c) is not null || SnapshotIdOf(c) is not { } id)
            {
                continue;
            }

            scanned++;
            byte[]? content = null;
            if (c[path]?.Target is Blob blob && repository.ObjectDatabase.RetrieveObjectMetadata(blob.Id).Size <= maxBytes)
            {
                using var stream = blob.GetContentStream();
                using var bytes = new MemoryStream();
                stream.CopyTo(bytes);
                content = bytes.ToArray();
            }

            found.Add((id, content));
        }

        return found;
    }

    /// <summary>Deletes the local clone (it is fetched anew on next use).</summary>
    public void DiscardClone()
    {
        using var cloneLock = LockClone(CancellationToken.None);
        DeleteClone();
    }

    public static string? SnapshotIdOf(Commit commit) => Trailer(commit, SnapshotTrailer);

    public static string? IncrementIdOf(Commit commit) => Trailer(commit, IncrementTrailer);

    /// <summary>
    /// When the commit's data was read: its <c>Data-Time:</c> trailer, else (commits written before the trailer existed,
    /// or a trailer that does not parse) its committer time, which writers set to the same instant.
    /// </summary>
    public static DateTimeOffset DataTimeOf(Commit commit) =>
        Trailer(commit, DataTimeTrailer) is { } text
        && DateTimeOffset.TryParseExact(text, "O", CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var time)
            ? time
            : commit.Committer.When;

    private static string? Trailer(Commit commit, string prefix)
    {
        foreach (var line in commit.Message.Split('\n'))
        {
            if (line.StartsWith(prefix, StringComparison.Ordinal))
            {
                return line[prefix.Length..].Trim();
            }
        }

        return null;
    }

    private static string WithTrailers(string message, string snapshotId, DateTimeOffset? dataTime) =>
        $"{message.TrimEnd()}\n\n{SnapshotTrailer}{snapshotId}\n"
        + (dataTime is { } time ? $"{DataTimeTrailer}{time.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)}\n" : "");

    // Newer data first; equal data times (read in the same instant) fall back to the snapshot id.
    private static bool IsNewer(Commit commit, DateTimeOffset dataTime, string snapshotId)
    {
        var byTime = DataTimeOf(commit).CompareTo(dataTime);
        return byTime > 0 || (byTime == 0 && string.CompareOrdinal(SnapshotIdOf(commit), snapshotId) > 0);
    }

    private static Commit Replay(Repository repository, Commit onto, IEnumerable<Commit> commits, Func<Tree, Tree>? mapTree = null)
    {
        var tip = onto;
        foreach (var later in commits)
        {
            tip = repository.ObjectDatabase.CreateCommit(later.Author, later.Committer, later.Message, mapTree?.Invoke(later.Tree) ?? later.Tree, [tip],
                prettifyMessage: false);
        }

        return tip;
    }

    /// <summary>
    /// Where a snapshot of <paramref name="dataTime"/> goes: on top of the newest commit that is not above a snapshot with
    /// newer data, and the commits above that place (replayed on top of it, oldest first). Increment commits do not
    /// order the branch (each is committed on top when it arrives, and its tree carries the snapshot below it): those
    /// above the newest snapshot stay below a snapshot that is newer than that one, so the hourly snapshot goes on top
    /// of the increments committed while it was being made, without a rewrite.
    /// </summary>
    private static (Commit? Parent, List<Commit> Newer) PlaceInDataOrder(Commit? head, DateTimeOffset dataTime, string snapshotId)
    {
        var above = new List<Commit>(); // newest first
        var increments = new List<Commit>(); // increment commits passed since the last newer snapshot, newest first
        var c = head;
        for (; c is not null; c = c.Parents.FirstOrDefault())
        {
            if (IncrementIdOf(c) is not null)
            {
                increments.Add(c);
            }
            else if (IsNewer(c, dataTime, snapshotId))
            {
                above.AddRange(increments);
                above.Add(c);
                increments.Clear();
            }
            else
            {
                break;
            }
        }

        above.Reverse();
        return (increments.Count > 0 ? increments[0] : c, above);
    }

    private static Tree Without(Repository repository, Tree tree, IReadOnlyCollection<string> paths)
    {
        var present = paths.Where(p => tree[p] is not null).ToList();
        if (present.Count == 0)
        {
            return tree;
        }

        var definition = TreeDefinition.From(tree);
        foreach (var path in present)
        {
            definition.Remove(path);
        }

        return repository.ObjectDatabase.CreateTree(definition);
    }

    // The whole history is scanned (up to the limit of snapshot commits): its order is by data time, which says nothing about ids.
    private static Commit? FindSnapshot(Commit? head, string snapshotId) => FindByTrailer(head, SnapshotTrailer, snapshotId);

    private static Commit? FindIncrement(Commit? head, string incrementId) => FindByTrailer(head, IncrementTrailer, incrementId);

    // The newest commit holding a snapshot: the head, unless increments were committed on top of it.
    private static Commit? NewestSnapshot(Commit? head)
    {
        var c = head;
        while (c is not null && IncrementIdOf(c) is not null)
        {
            c = c.Parents.FirstOrDefault();
        }

        return c;
    }

    // Increment commits do not count towards the limit: a day of them is over a thousand commits between two snapshots.
    private static Commit? FindByTrailer(Commit? head, string trailer, string value)
    {
        var scanned = 0;
        for (var c = head; c is not null && scanned < HistoryScanLimit; c = c.Parents.FirstOrDefault())
        {
            if (Trailer(c, trailer) == value)
            {
                return c;
            }

            if (IncrementIdOf(c) is null)
            {
                scanned++;
            }
        }

        return null;
    }

    private Commit? RemoteHead(Repository repository) =>
        repository.Refs[RemoteRef] is { } reference ? repository.Lookup<Commit>(reference.TargetIdentifier) : null;

    /// <summary>Opens the bare clone (creating or recreating it when missing or corrupt) and fetches the branch.</summary>
    private Repository OpenFetched()
    {
        for (var attempt = 1; ; attempt++)
        {
            Repository? repository = null;
            try
            {
                if (!Repository.IsValid(ClonePath))
                {
                    Recreate();
                }

                repository = new Repository(ClonePath);
                LimitPackMemory(repository);
                var origin = repository.Network.Remotes["origin"];
                if (origin is null || origin.Url != remote.RepositoryUrl.ToString())
                {
                    if (origin is not null)
                    {
                        repository.Network.Remotes.Remove("origin");
                    }

                    repository.Network.Remotes.Add("origin", remote.RepositoryUrl.ToString(), $"+refs/heads/{remote.Branch}:{RemoteRef}");
                }

                // Only this branch: others are never fetched, let alone pushed. Drop a stale tracking ref first, so a branch
                // deleted on the server is seen as absent.
                if (repository.Refs[RemoteRef] is not null)
                {
                    repository.Refs.Remove(RemoteRef);
                }

                Commands.Fetch(repository, "origin", [$"+refs/heads/{remote.Branch}:{RemoteRef}"],
                    new FetchOptions { CredentialsProvider = Credentials, TagFetchMode = TagFetchMode.None, Prune = false }, null);
                return repository;
            }
            catch (LibGit2SharpException e) when (AccessFailure(e) is { } why)
            {
                repository?.Dispose();
                throw new GitPermanentException(why, e);
            }
            catch (LibGit2SharpException e) when (attempt == 1 && IsCorruption(e))
            {
                repository?.Dispose();
                LogCloneUnusable(logger, ClonePath, e.Message);
                Recreate();
            }
            catch
            {
                repository?.Dispose();
                throw;
            }
        }
    }

    /// <summary>
    /// Bounds what libgit2's pack builder holds while pushing. Without thin packs (libgit2 sends none) a push can only
    /// delta new parts against each other, which saves nothing here, yet the delta window loads up to ten 45 MiB parts
    /// at once (a 100 MiB snapshot peaked at 323 MiB). libgit2 reads its big-file threshold from
    /// <c>pack.deltaCacheSize</c> (sic), so a 16 MiB value also stores larger blobs whole, without delta search;
    /// <c>pack.windowMemory</c> caps the window for the rest.
    /// </summary>
    private static void LimitPackMemory(Repository repository)
    {
        repository.Config.Set("pack.deltaCacheSize", 16L * 1024 * 1024);
        repository.Config.Set("pack.windowMemory", 64L * 1024 * 1024);
    }

    private void Recreate()
    {
        DeleteClone();
        Directory.CreateDirectory(ClonePath);
        Repository.Init(ClonePath, isBare: true);
    }

    private void DeleteClone()
    {
        if (Directory.Exists(ClonePath))
        {
            Directory.Delete(ClonePath, recursive: true);
        }
    }

    // What the clone may hold after pushing tip: a multiple of the files in tip's tree (read from object headers only).
    private static long CloneBudget(Repository repository, Commit tip) => CloneSizeFactor * TreeBytes(repository, tip.Tree) + CloneSlackBytes;

    private static long TreeBytes(Repository repository, Tree tree)
    {
        long total = 0;
        foreach (var entry in tree)
        {
            total += entry.Target switch
            {
                Tree subtree => TreeBytes(repository, subtree),
                Blob blob => repository.ObjectDatabase.RetrieveObjectMetadata(blob.Id).Size,
                _ => 0,
            };
        }

        return total;
    }

    private void KeepCloneWithin(long budget)
    {
        var size = Directory.Exists(ClonePath)
            ? Directory.EnumerateFiles(ClonePath, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length)
            : 0;
        if (size > budget)
        {
            LogCloneOverBudget(logger, remote, size, budget);
            DeleteClone();
        }
    }

    /// <summary>
    /// An exclusive lock on the clone, held for one operation, so that no two writers (threads, or processes sharing the
    /// volume) fetch into, push from or delete the same clone at once. The operating system releases it if the process dies.
    /// </summary>
    private FileStream LockClone(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(ClonePath)!);
        while (true)
        {
            try
            {
                return new FileStream(ClonePath + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                cancellationToken.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(200));
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
    }

    /// <summary>
    /// Pushes <paramref name="tip"/> to the branch only if the branch is still at <paramref name="expectedHead"/> (null: the
    /// branch did not exist). Returns false when it moved or the push was not accepted for a reason worth retrying (the
    /// caller fetches and rebuilds); throws when the server refuses for good or the branch keeps moving.
    /// </summary>
    private bool TryPush(Repository repository, Commit tip, Commit? expectedHead, bool force, int attempt)
    {
        repository.Refs.Add(LocalRef, tip.Id, allowOverwrite: true);
        var expected = expectedHead?.Id ?? ObjectId.Zero;
        string? rejection = null;
        ObjectId? moved = null;
        var options = new PushOptions
        {
            CredentialsProvider = Credentials,
            OnPushStatusError = error => rejection = error.Message,
            // The lease: the branch's current value as the server advertises it for this push must be the one we built on.
            OnNegotiationCompletedBeforePush = updates =>
            {
                moved = updates.FirstOrDefault(u => u.DestinationRefName == LocalRef && u.SourceObjectId != expected)?.SourceObjectId;
                return moved is null;
            },
        };
        try
        {
            repository.Network.Push(repository.Network.Remotes["origin"], $"{(force ? "+" : "")}{LocalRef}:{LocalRef}", options);
        }
        catch (LibGit2SharpException e) when (AccessFailure(e) is { } why)
        {
            throw new GitPermanentException(why, e);
        }
        catch (LibGit2SharpException) when (moved is not null)
        {
            rejection = $"the branch moved to {moved.Sha} since it was read at {(expectedHead?.Sha ?? "(none)")}";
        }
        catch (LibGit2SharpException e) when (attempt < PushAttempts && !IsServerRefusal(e.Message))
        {
            LogPushNotAccepted(logger, remote, e.Message, attempt);
            return false;
        }

        if (rejection is null)
        {
            return true;
        }

        if (IsServerRefusal(rejection))
        {
            throw new GitPermanentException($"{remote.RepositoryUrl} refused the push of {remote.Branch}: {rejection}");
        }

        if (attempt >= PushAttempts)
        {
            throw new GitBranchMovedException($"{remote} kept moving: {PushAttempts} pushes were not accepted (last: {rejection}).");
        }

        LogPushNotApplied(logger, remote, rejection, attempt);
        return false;
    }

    private UsernamePasswordCredentials Credentials(string url, string usernameFromUrl, SupportedCredentialTypes types) =>
        new UsernamePasswordCredentials { Username = remote.UserName, Password = remote.Token };

    private static bool HttpStatus(string message, int code) =>
        System.Text.RegularExpressions.Regex.IsMatch(message, $@"(?<![0-9a-fA-F]){code}(?![0-9a-fA-F])");

    // What GitHub answers a token that cannot do what it asked: retrying would only repeat it. The line says what to check.
    private string? AccessFailure(LibGit2SharpException e)
    {
        var message = e.Message;
        if (HttpStatus(message, 404))
        {
            return $"{remote.RepositoryUrl} was not found (HTTP 404): check {remote.RepositoryVariable} (the repository's https URL) and that {GitRemote.TokenVariable} can see it (GitHub answers 404 to a token without access).";
        }

        if (HttpStatus(message, 403))
        {
            return $"{remote.RepositoryUrl} refused access (HTTP 403): the token in {GitRemote.TokenVariable} lacks write access to the repository's contents.";
        }

        if (HttpStatus(message, 401) || message.Contains("authentication", StringComparison.OrdinalIgnoreCase))
        {
            return $"Authentication to {remote.RepositoryUrl} failed (HTTP 401): check {GitRemote.TokenVariable}.";
        }

        return null;
    }

    // A hook or size limit that declined the push: retrying sends the same objects again.
    private static bool IsServerRefusal(string message) =>
        message.Contains("hook declined", StringComparison.OrdinalIgnoreCase)
        || message.Contains("GH001", StringComparison.Ordinal)
        || message.Contains("too large", StringComparison.OrdinalIgnoreCase);

    private static bool IsCorruption(LibGit2SharpException e) =>
        e is RepositoryNotFoundException
        || e.Message.Contains("corrupt", StringComparison.OrdinalIgnoreCase)
        || e.Message.Contains("object not found", StringComparison.OrdinalIgnoreCase)
        || e.Message.Contains("invalid", StringComparison.OrdinalIgnoreCase);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Snapshot {SnapshotId} holds older data than the head of {Remote}: inserted below {Count} newer commits, which are replayed")]
    private static partial void LogInsertedBelowNewer(ILogger logger, string snapshotId, GitRemote remote, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Working clone {Path} is unusable ({Error}); recreating it")]
    private static partial void LogCloneUnusable(ILogger logger, string path, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Working clone of {Remote} holds {Size} bytes, over {Budget}: deleted, fetched anew on next use")]
    private static partial void LogCloneOverBudget(ILogger logger, GitRemote remote, long size, long budget);

    [LoggerMessage(Level = LogLevel.Information, Message = "Push to {Remote} not accepted ({Error}); fetching and retrying (attempt {Attempt})")]
    private static partial void LogPushNotAccepted(ILogger logger, GitRemote remote, string error, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Push to {Remote} not applied ({Rejection}); fetching and retrying (attempt {Attempt})")]
    private static partial void LogPushNotApplied(ILogger logger, GitRemote remote, string rejection, int attempt);
}

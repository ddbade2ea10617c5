using System.Security.Cryptography;
using System.Text;
using LibGit2Sharp;
using Microsoft.Extensions.Logging;

namespace TeleGuard.Backup.Git;

/// <summary>
/// Writes commits to one branch of a remote repository, one commit per snapshot, in snapshot-id order, from a bare
/// working clone under a local directory (kept across restarts, recreated when it is corrupt).
/// Each commit carries a <c>Snapshot-Id:</c> trailer: a snapshot already on the branch is found and reported instead of
/// committed again. A push rejected because the branch moved is retried on top of the new head; a snapshot older than
/// the head is inserted at its place and the newer commits are replayed on top (the branch is then force-pushed).
/// Other branches are never touched.
/// </summary>
public sealed class GitBranchWriter(GitRemote remote, string cloneRoot, ILogger logger)
{
    public const string SnapshotTrailer = "Snapshot-Id: ";
    private const int PushAttempts = 5;
    private const int HistoryScanLimit = 500;
    private static readonly Signature Author = new("TeleGuard Backup", "backup@teleguard.invalid", DateTimeOffset.UnixEpoch);

    private string RemoteRef => $"refs/remotes/origin/{remote.Branch}";
    private string LocalRef => $"refs/heads/{remote.Branch}";

    /// <summary>Where the bare clone of this repository and branch lives.</summary>
    public string ClonePath { get; } = Path.Combine(cloneRoot, "git",
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{remote.RepositoryUrl}#{remote.Branch}")))[..16]);

    /// <summary>
    /// Commits <paramref name="snapshotId"/> with the tree that <paramref name="buildTree"/> makes from the parent's tree
    /// (null for the first commit). Returns the commit, or the existing one when the snapshot is already on the branch.
    /// Replayed newer commits get new SHAs: <paramref name="replayed"/> receives (snapshot id, new SHA) for each.
    /// </summary>
    public SnapshotCommit CommitSnapshot(
        string snapshotId, string message, DateTimeOffset when, Func<Repository, Tree?, TreeDefinition> buildTree,
        Action<string, string>? replayed = null, CancellationToken cancellationToken = default)
    {
        for (var attempt = 1; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var repository = OpenFetched();
            var head = RemoteHead(repository);
            if (FindSnapshot(head, snapshotId) is { } existing)
            {
                return new SnapshotCommit(snapshotId, existing.Sha, AlreadyPresent: true);
            }

            // Commits newer than this snapshot (by id) are replayed on top of it, to keep snapshot-id order.
            var newer = new List<Commit>();
            var parent = head;
            while (parent is not null && string.CompareOrdinal(SnapshotIdOf(parent), snapshotId) > 0)
            {
                newer.Insert(0, parent);
                parent = parent.Parents.FirstOrDefault();
            }

            var signature = new Signature(Author.Name, Author.Email, when);
            var tree = repository.ObjectDatabase.CreateTree(buildTree(repository, parent?.Tree));
            var commit = repository.ObjectDatabase.CreateCommit(signature, signature, WithTrailer(message, snapshotId), tree,
                parent is null ? [] : [parent], prettifyMessage: false);
            var tip = commit;
            var remapped = new List<(string Id, string Sha)>();
            foreach (var later in newer)
            {
                tip = repository.ObjectDatabase.CreateCommit(later.Author, later.Committer, later.Message, later.Tree, [tip], prettifyMessage: false);
                remapped.Add((SnapshotIdOf(later)!, tip.Sha));
            }

            if (newer.Count > 0)
            {
                logger.LogWarning("Snapshot {SnapshotId} is older than the head of {Remote}: inserted before {Count} newer commits, which are replayed",
                    snapshotId, remote, newer.Count);
            }

            if (TryPush(repository, tip, force: newer.Count > 0, attempt))
            {
                foreach (var (id, sha) in remapped)
                {
                    replayed?.Invoke(id, sha);
                }

                return new SnapshotCommit(snapshotId, commit.Sha, AlreadyPresent: false);
            }
        }
    }

    /// <summary>
    /// Replaces the branch with one commit without parents holding the tree of <paramref name="keepSnapshotId"/>'s commit.
    /// Returns the new commit's SHA, or null when that snapshot is not on the branch (nothing is changed then).
    /// </summary>
    public string? Compact(string keepSnapshotId, string message, CancellationToken cancellationToken = default)
    {
        for (var attempt = 1; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var repository = OpenFetched();
            var head = RemoteHead(repository);
            var keep = FindSnapshot(head, keepSnapshotId);
            if (keep is null)
            {
                return null;
            }

            if (keep.Sha == head!.Sha && !head.Parents.Any())
            {
                return head.Sha; // already compacted to exactly this
            }

            // Snapshots committed after the one kept (newer, not yet marked good) are kept too, on top of it.
            var newer = new List<Commit>();
            for (var c = head; c is not null && c.Sha != keep.Sha; c = c.Parents.FirstOrDefault())
            {
                newer.Insert(0, c);
            }

            var signature = new Signature(Author.Name, Author.Email, keep.Committer.When);
            var tip = repository.ObjectDatabase.CreateCommit(signature, signature, WithTrailer(message, keepSnapshotId), keep.Tree, [], prettifyMessage: false);
            var orphan = tip.Sha;
            foreach (var later in newer)
            {
                tip = repository.ObjectDatabase.CreateCommit(later.Author, later.Committer, later.Message, later.Tree, [tip], prettifyMessage: false);
            }

            if (TryPush(repository, tip, force: true, attempt))
            {
                return orphan;
            }
        }
    }

    /// <summary>
    /// Replaces the branch with one commit without parents whose tree <paramref name="buildTree"/> makes from the current
    /// head's tree (retention on a branch whose files, not history, carry the snapshots). Returns the new commit's SHA.
    /// </summary>
    public string ReplaceWithOrphan(string snapshotId, string message, DateTimeOffset when,
        Func<Repository, Tree?, TreeDefinition> buildTree, CancellationToken cancellationToken = default)
    {
        for (var attempt = 1; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var repository = OpenFetched();
            var head = RemoteHead(repository);
            var signature = new Signature(Author.Name, Author.Email, when);
            var tree = repository.ObjectDatabase.CreateTree(buildTree(repository, head?.Tree));
            var orphan = repository.ObjectDatabase.CreateCommit(signature, signature, WithTrailer(message, snapshotId), tree, [], prettifyMessage: false);
            if (TryPush(repository, orphan, force: true, attempt))
            {
                return orphan.Sha;
            }
        }
    }

    /// <summary>The commit of <paramref name="snapshotId"/> on the remote branch, if any (fetches first).</summary>
    public string? FindSnapshotCommit(string snapshotId)
    {
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
        using var repository = OpenFetched();
        var head = RemoteHead(repository);
        var commit = snapshotId is null ? head : FindSnapshot(head, snapshotId);
        if (commit is null)
        {
            return null;
        }

        var tree = treePath.Length == 0 ? commit.Tree : commit[treePath]?.Target as Tree;
        if (tree is null)
        {
            return null;
        }

        if (Directory.Exists(destination) && Directory.EnumerateFileSystemEntries(destination).Any())
        {
            throw new IOException($"Export folder {destination} is not empty.");
        }

        var root = Path.GetFullPath(destination);
        new TreeExport(repository, root, $"the tree of commit {commit.Sha}").Write(tree, treePath, root, depth: 0);
        return SnapshotIdOf(commit);
    }

    /// <summary>Reads the remote branch's commits, newest first (fetches first).</summary>
    public IReadOnlyList<(string Sha, string? SnapshotId, int Parents)> History(int limit = HistoryScanLimit)
    {
        using var repository = OpenFetched();
        var list = new List<(string, string?, int)>();
        for (var c = RemoteHead(repository); c is not null && list.Count < limit; c = c.Parents.FirstOrDefault())
        {
            list.Add((c.Sha, SnapshotIdOf(c), c.Parents.Count()));
        }

        return list;
    }

    public static string? SnapshotIdOf(Commit commit)
    {
        foreach (var line in commit.Message.Split('\n'))
        {
            if (line.StartsWith(SnapshotTrailer, StringComparison.Ordinal))
            {
                return line[SnapshotTrailer.Length..].Trim();
            }
        }

        return null;
    }

    private static string WithTrailer(string message, string snapshotId) => $"{message.TrimEnd()}\n\n{SnapshotTrailer}{snapshotId}\n";

    private static Commit? FindSnapshot(Commit? head, string snapshotId)
    {
        var scanned = 0;
        for (var c = head; c is not null && scanned < HistoryScanLimit; c = c.Parents.FirstOrDefault(), scanned++)
        {
            var id = SnapshotIdOf(c);
            if (id == snapshotId)
            {
                return c;
            }

            if (id is not null && string.CompareOrdinal(id, snapshotId) < 0)
            {
                return null; // history is in id order: nothing older can hold it
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
            catch (LibGit2SharpException e) when (IsAuthenticationFailure(e))
            {
                repository?.Dispose();
                throw new GitPermanentException($"Authentication to {remote.RepositoryUrl} failed: check the token and its access to the repository.");
            }
            catch (LibGit2SharpException e) when (attempt == 1 && IsCorruption(e))
            {
                repository?.Dispose();
                logger.LogWarning("Working clone {Path} is unusable ({Error}); recreating it", ClonePath, e.Message);
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
        if (Directory.Exists(ClonePath))
        {
            Directory.Delete(ClonePath, recursive: true);
        }

        Directory.CreateDirectory(ClonePath);
        Repository.Init(ClonePath, isBare: true);
    }

    private bool TryPush(Repository repository, Commit tip, bool force, int attempt)
    {
        repository.Refs.Add(LocalRef, tip.Id, allowOverwrite: true);
        string? rejection = null;
        var options = new PushOptions
        {
            CredentialsProvider = Credentials,
            OnPushStatusError = error => rejection = error.Message,
        };
        try
        {
            repository.Network.Push(repository.Network.Remotes["origin"], $"{(force ? "+" : "")}{LocalRef}:{LocalRef}", options);
        }
        catch (LibGit2SharpException e) when (IsAuthenticationFailure(e))
        {
            throw new GitPermanentException($"Authentication to {remote.RepositoryUrl} failed: check the token and its access to the repository.");
        }
        catch (LibGit2SharpException e) when (attempt < PushAttempts && !IsServerRefusal(e.Message))
        {
            logger.LogInformation("Push to {Remote} not accepted ({Error}); fetching and retrying (attempt {Attempt})", remote, e.Message, attempt);
            return false;
        }

        if (rejection is null)
        {
            return true;
        }

        if (IsServerRefusal(rejection) || attempt >= PushAttempts)
        {
            throw new GitPermanentException($"{remote.RepositoryUrl} refused the push of {remote.Branch}: {rejection}");
        }

        logger.LogInformation("Push to {Remote} rejected ({Rejection}); fetching and retrying (attempt {Attempt})", remote, rejection, attempt);
        return false;
    }

    private Credentials Credentials(string url, string usernameFromUrl, SupportedCredentialTypes types) =>
        new UsernamePasswordCredentials { Username = remote.UserName, Password = remote.Token };

    private static bool IsAuthenticationFailure(LibGit2SharpException e) =>
        e.Message.Contains("authentication", StringComparison.OrdinalIgnoreCase)
        || e.Message.Contains("401", StringComparison.Ordinal)
        || e.Message.Contains("403", StringComparison.Ordinal);

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
}

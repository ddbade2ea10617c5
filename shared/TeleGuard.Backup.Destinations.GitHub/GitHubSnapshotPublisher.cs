using System.Text;
using LibGit2Sharp;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Git;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace TeleGuard.Backup.Destinations.GitHub;

/// <summary>
/// Commits a snapshot to the private repository's backup branch: the tree's <c>snapshot/</c> folder is replaced by the
/// snapshot's files (uncompressed, stable paths and document order, so git stores hourly changes as small deltas and
/// <c>git log -p</c> shows what changed). One commit per snapshot, in the order of when the data was read, so the head
/// is always the newest data. A Redis lock per repository and branch serialises instances; rewriting the branch
/// (inserting a snapshot below newer data, compaction) happens only while holding it, and every push is a
/// compare-and-swap on the branch (see <see cref="GitBranchWriter"/>).
/// </summary>
public sealed partial class GitHubSnapshotPublisher(
    IOptions<GitHubSinkOptions> options,
    IOptions<WorkDirectoryOptions> workDirectory,
    SnapshotArtifactFetcher fetcher,
    BackupsMetaStore meta,
    RedisLocks locks,
    IOptions<SinkLeaseOptions> lease,
    ILogger<GitHubSnapshotPublisher> logger)
{
    private GitRemote Remote => options.Value.Remote ?? throw new InvalidOperationException("The GitHub sink is disabled.");

    private GitBranchWriter Writer() => new(Remote, workDirectory.Value.Path, logger);

    public async Task<GitHubLocation> PublishAsync(SnapshotCreated snapshot, CancellationToken cancellationToken)
    {
        using var work = WorkFolder.Create(workDirectory.Value.Path, "github", snapshot.SnapshotId);
        try
        {
            var extracted = Path.Combine(work.Path, "artifact");
            var manifest = await fetcher.ExtractVerifiedAsync(snapshot, extracted, cancellationToken);
            var layoutRoot = Path.Combine(work.Path, "layout");
            var layout = RepositoryLayout.Prepare(extracted, manifest, layoutRoot, RepositoryFileLimit.MaxBytes);
            var source = ReferenceEquals(layout, manifest) ? extracted : layoutRoot;

            // Without the lock (Redis down) a snapshot with the newest data still goes on top (a fast-forward push); one
            // that belongs below newer data waits for the lock (GitRewriteNeedsLockException is retried).
            await using var branchLock = await locks.AcquireAsync(LockKey, lease.Value.Lease, TimeSpan.FromMinutes(10), cancellationToken);
            var placement = branchLock is null ? SnapshotPlacement.InDataOrderWithoutRewrite : SnapshotPlacement.InDataOrder;
            var commit = await Task.Run(() => Writer().CommitSnapshot(
                snapshot.SnapshotId, CommitMessage(layout), manifest.DataTime,
                (repository, parent) => SnapshotTree(repository, parent, source, layout), placement, cancellationToken), cancellationToken);
            if (commit.Rewrote)
            {
                await VerifyRecordedCopiesAsync(removed: [], cancellationToken);
            }

            LogCopied(logger, snapshot.SnapshotId, commit.AlreadyPresent ? "was already in" : "pushed as", commit.Sha, Remote);
            return Location(commit.Sha);
        }
        catch (GitPermanentException e)
        {
            throw new PermanentFailureException(e.Message, e);
        }
    }

    /// <summary>
    /// Replaces the branch with one parentless commit holding the snapshot with the newest data whose GitHub copy
    /// succeeded (snapshots and increments above it, if any, stay on top). Increments go with the snapshots removed:
    /// those that end at or before the kept snapshot's cluster time; every one after it stays (see <see cref="IncrementRetention"/>). Nothing happens when there is none: the branch is never
    /// emptied. Compaction force-pushes, so it runs only while holding the branch lock: without it (Redis down) it is
    /// postponed to the next cleanup, and backups_meta says so (<c>status</c> shows it). Returns the new commit, if any.
    /// </summary>
    public async Task<string?> CompactAsync(CancellationToken cancellationToken)
    {
        var latest = await meta.FindLatestSucceededAsync(BackupSinks.GitHub, cancellationToken);
        if (latest is null)
        {
            LogNothingToCompact(logger);
            return null;
        }

        // Retention never touches work in progress: a commit pushed but not yet recorded could be compacted away.
        var copying = (await meta.ListSinkCopiesHeldAsync(BackupSinks.GitHub, cancellationToken)).Select(r => r.Id).ToList();
        if (copying.Count > 0)
        {
            var snapshotIds = string.Join(", ", copying);
            LogCompactionWaitsForCopies(logger, snapshotIds);
            throw new CleanupPostponedException($"snapshot {snapshotIds} is being copied; compaction waits for the next cleanup");
        }

        await using var branchLock = await locks.AcquireAsync(LockKey, lease.Value.Lease, TimeSpan.FromMinutes(10), cancellationToken);
        if (branchLock is null)
        {
            const string why = "the branch lock could not be taken (Redis unavailable): no force push; compaction waits for the next cleanup";
            await meta.RecordCleanupAsync(latest.Id, BackupSinks.GitHub, CleanupRecord.Postponed, why, cancellationToken);
            LogCompactionPostponed(logger, Remote, why);
            throw new CleanupPostponedException(why);
        }

        var keptTime = latest.Manifest?.ClusterTime is { } clusterTime ? ChangeEventLine.ToClusterTimestamp(clusterTime) : null;
        var compaction = await Task.Run(() => Writer().Compact(latest.Id, $"Compacted backups: latest snapshot {latest.Id}",
            (repository, head) => IncrementRetention.FilesToRemove(repository, head, keptTime), cancellationToken), cancellationToken);
        if (compaction is null)
        {
            LogLatestNotOnBranch(logger, latest.Id, Remote);
            throw new PermanentFailureException($"snapshot {latest.Id}, recorded as the newest good copy, is not on the branch; compaction skipped");
        }

        await VerifyRecordedCopiesAsync(compaction.RemovedSnapshotIds, cancellationToken);
        var location = Location(compaction.Sha); // last: once it says compacted, the removals are recorded
        location.CompactedAt = DateTime.UtcNow;
        await meta.UpdateSinkLocationAsync(latest.Id, BackupSinks.GitHub, location, cancellationToken);
        await meta.RecordCleanupAsync(latest.Id, BackupSinks.GitHub, CleanupRecord.Done, null, cancellationToken);
        LogCompacted(logger, Remote, compaction.Sha, latest.Id, compaction.RemovedSnapshotIds.Count);
        return compaction.Sha;
    }

    /// <summary>
    /// After the branch was rewritten: every copy that backups_meta holds as succeeded on this branch must still be on
    /// it. Replayed commits got new SHAs, which the records follow; snapshots the rewrite took off on purpose are marked
    /// removed; any other missing one was lost (which the compare-and-swap on every push rules out) and is recorded as
    /// such, never left as succeeded. Records are read before the branch: a copy recorded later was pushed later.
    /// </summary>
    private async Task VerifyRecordedCopiesAsync(IReadOnlyCollection<string> removed, CancellationToken cancellationToken)
    {
        var recorded = await meta.ListKeptSinkCopiesAsync(BackupSinks.GitHub, cancellationToken);
        var history = await Task.Run(() => Writer().History(), cancellationToken);
        var onBranch = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var commit in history.Where(c => c.SnapshotId is not null))
        {
            onBranch.TryAdd(commit.SnapshotId!, commit.Sha);
        }

        var wholeBranchRead = history.Count == 0 || history[^1].Parents == 0;
        foreach (var record in recorded)
        {
            var location = record.Sinks[BackupSinks.GitHub].LocationAs<GitHubLocation>();
            if (location is null || location.Repository != Remote.RepositoryUrl.ToString() || location.Branch != Remote.Branch)
            {
                continue; // a copy on another repository or branch (the configuration changed since)
            }

            if (onBranch.TryGetValue(record.Id, out var sha))
            {
                if (location.Commit != sha)
                {
                    location.Commit = sha;
                    await meta.UpdateSinkLocationAsync(record.Id, BackupSinks.GitHub, location, cancellationToken);
                }
            }
            else if (removed.Contains(record.Id))
            {
                await meta.MarkSinkCopyRemovedAsync(record.Id, BackupSinks.GitHub, cancellationToken);
            }
            else if (wholeBranchRead)
            {
                LogRecordedCopyMissing(logger, record.Id, Remote);
                await meta.RecordSinkRemovalAsync(record.Id, BackupSinks.GitHub,
                    new GitHubRemoval { Missing = "not on the branch when checked after a rewrite" }, cancellationToken);
            }
        }
    }

    private string LockKey => Writer().BranchLockKey;

    private GitHubLocation Location(string sha) => new() { Repository = Remote.RepositoryUrl.ToString(), Branch = Remote.Branch, Commit = sha };

    private static TreeDefinition SnapshotTree(Repository repository, Tree? parent, string source, SnapshotManifest manifest)
    {
        var tree = parent is null ? new TreeDefinition() : TreeDefinition.From(parent);
        tree.Remove(RepositoryLayout.Folder);
        var files = new[] { SnapshotManifest.FileName }.Concat(SnapshotArchive.FilesOf(manifest).Select(f => f.File));
        foreach (var file in files)
        {
            var blob = repository.ObjectDatabase.CreateBlob(Path.Combine(source, file));
            tree.Add($"{RepositoryLayout.Folder}/{file}", blob, Mode.NonExecutableFile);
        }

        return tree;
    }

    private static string CommitMessage(SnapshotManifest manifest)
    {
        var message = new StringBuilder()
            .Append($"Snapshot {manifest.SnapshotId}: {manifest.Collections.Count} collections, {manifest.TotalDocuments} documents\n\n");
        foreach (var collection in manifest.Collections)
        {
            message.Append($"{collection.Name}: {collection.Documents} documents, {collection.Bytes} bytes\n");
        }

        return message.Append($"consistency: {manifest.Consistency.Mode}\n").ToString();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "GitHub: snapshot {SnapshotId} {What} commit {Sha} on {Remote}")]
    private static partial void LogCopied(ILogger logger, string snapshotId, string what, string sha, GitRemote remote);

    [LoggerMessage(Level = LogLevel.Information, Message = "GitHub: no snapshot has a good copy yet; nothing to compact")]
    private static partial void LogNothingToCompact(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "GitHub: compaction waits for the next cleanup: snapshot {SnapshotIds} is being copied")]
    private static partial void LogCompactionWaitsForCopies(ILogger logger, string snapshotIds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "GitHub: compaction of {Remote} postponed: {Reason}")]
    private static partial void LogCompactionPostponed(ILogger logger, GitRemote remote, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "GitHub: snapshot {SnapshotId} is not on {Remote}; compaction skipped")]
    private static partial void LogLatestNotOnBranch(ILogger logger, string snapshotId, GitRemote remote);

    [LoggerMessage(Level = LogLevel.Information, Message = "GitHub: {Remote} compacted to commit {Sha} holding snapshot {SnapshotId}; {Count} older snapshots removed")]
    private static partial void LogCompacted(ILogger logger, GitRemote remote, string sha, string snapshotId, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "GitHub: snapshot {SnapshotId} is recorded as copied but is no longer on {Remote}")]
    private static partial void LogRecordedCopyMissing(ILogger logger, string snapshotId, GitRemote remote);
}

using System.Text;
using LibGit2Sharp;
using Microsoft.Extensions.Options;
using MongoDB.Bson;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Git;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Sinks;
using TeleGuard.Backup.Snapshots;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.GitHub;

/// <summary>
/// Commits a snapshot to the private repository's backup branch: the tree's <c>snapshot/</c> folder is replaced by the
/// snapshot's files (uncompressed, stable paths and document order, so git stores hourly changes as small deltas and
/// <c>git log -p</c> shows what changed). One commit per snapshot, in snapshot-id order; a Redis lock per repository
/// and branch serialises instances, and the git writer handles a branch that moved anyway.
/// </summary>
public sealed class GitHubSnapshotPublisher(
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

    public async Task<BsonDocument> PublishAsync(SnapshotCreated snapshot, CancellationToken cancellationToken)
    {
        var work = Path.Combine(workDirectory.Value.Path, "github", $"{snapshot.SnapshotId}.{Guid.NewGuid():N}");
        try
        {
            var extracted = Path.Combine(work, "artifact");
            var manifest = await fetcher.ExtractVerifiedAsync(snapshot, extracted, cancellationToken);
            var layoutRoot = Path.Combine(work, "layout");
            var layout = RepositoryLayout.Prepare(extracted, manifest, layoutRoot, GitHubSinkOptions.MaxFileBytes);
            var source = ReferenceEquals(layout, manifest) ? extracted : layoutRoot;

            await using var branchLock = await locks.AcquireAsync(LockKey, lease.Value.Lease, TimeSpan.FromMinutes(10), cancellationToken);
            var replayed = new List<(string Id, string Sha)>();
            var commit = await Task.Run(() => Writer().CommitSnapshot(
                snapshot.SnapshotId, CommitMessage(layout), manifest.FinishedAt,
                (repository, parent) => SnapshotTree(repository, parent, source, layout),
                (id, sha) => replayed.Add((id, sha)), cancellationToken), cancellationToken);

            foreach (var (id, sha) in replayed)
            {
                await meta.UpdateSinkLocationAsync(id, BackupSinks.GitHub, Location(sha), cancellationToken);
            }

            logger.LogInformation("GitHub: snapshot {SnapshotId} {What} commit {Sha} on {Remote}",
                snapshot.SnapshotId, commit.AlreadyPresent ? "was already in" : "pushed as", commit.Sha, Remote);
            return Location(commit.Sha);
        }
        catch (GitPermanentException e)
        {
            throw new PermanentFailureException(e.Message, e);
        }
        finally
        {
            if (Directory.Exists(work))
            {
                Directory.Delete(work, recursive: true);
            }
        }
    }

    /// <summary>
    /// Replaces the branch with one parentless commit holding the newest snapshot whose GitHub copy succeeded.
    /// Nothing happens when there is none: the branch is never emptied. Returns the new commit, if any.
    /// </summary>
    public async Task<string?> CompactAsync(CancellationToken cancellationToken)
    {
        var latest = await meta.FindLatestSucceededAsync(BackupSinks.GitHub, cancellationToken);
        if (latest is null)
        {
            logger.LogInformation("GitHub: no snapshot has a good copy yet; nothing to compact");
            return null;
        }

        // Retention never touches work in progress: a commit pushed but not yet recorded could be compacted away.
        var copying = (await meta.ListSinkCopiesHeldAsync(BackupSinks.GitHub, cancellationToken)).Select(r => r.Id).ToList();
        if (copying.Count > 0)
        {
            logger.LogInformation("GitHub: compaction waits for the next cleanup: snapshot {SnapshotIds} is being copied", string.Join(", ", copying));
            return null;
        }

        await using var branchLock = await locks.AcquireAsync(LockKey, lease.Value.Lease, TimeSpan.FromMinutes(10), cancellationToken);
        var orphan = await Task.Run(() => Writer().Compact(latest.Id, $"Compacted backups: latest snapshot {latest.Id}", cancellationToken), cancellationToken);
        if (orphan is null)
        {
            logger.LogWarning("GitHub: snapshot {SnapshotId} is not on {Remote}; compaction skipped", latest.Id, Remote);
            return null;
        }

        var location = Location(orphan);
        location["compactedAt"] = DateTime.UtcNow;
        await meta.UpdateSinkLocationAsync(latest.Id, BackupSinks.GitHub, location, cancellationToken);
        await meta.MarkSinkCopiesRemovedAsync(BackupSinks.GitHub, latest.Id, cancellationToken);
        logger.LogInformation("GitHub: {Remote} compacted to commit {Sha} holding snapshot {SnapshotId}", Remote, orphan, latest.Id);
        return orphan;
    }

    // Same key in every instance: derived from the repository URL and branch (the clone folder name is their hash).
    private string LockKey => $"git:{Path.GetFileName(Writer().ClonePath)}";

    private BsonDocument Location(string sha) => new()
    {
        { "repository", Remote.RepositoryUrl.ToString() },
        { "branch", Remote.Branch },
        { "commit", sha },
    };

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
}

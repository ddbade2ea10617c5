using LibGit2Sharp;
using MongoDB.Driver;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Crypto;
using TeleGuard.Backup.Git;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace TeleGuard.Backup.Destinations.Public;

/// <summary>
/// Publishes a snapshot in the open, readable only with the key: the artifact (manifest + collections, one tar
/// archive) is gzip-compressed, encrypted in the streaming format (its header names the snapshot id), split into files of at most 45 MiB and committed as
/// <c>snapshots/&lt;id&gt;.tgb</c> with <c>index.json</c> (which lists every kept snapshot and when its data was read)
/// and <c>README.md</c>. Nothing on the branch names a collection or counts documents; commit messages say only the
/// snapshot id.
/// </summary>
public sealed partial class PublicSnapshotPublisher(
    IOptions<PublicSinkOptions> options,
    IOptions<WorkDirectoryOptions> workDirectory,
    IOptions<RetentionOptions> retention,
    SnapshotArtifactFetcher fetcher,
    BackupsMetaStore meta,
    IncrementsStore increments,
    IMongoDatabase database,
    RedisLocks locks,
    IOptions<SinkLeaseOptions> lease,
    TimeProvider time,
    ILogger<PublicSnapshotPublisher> logger)
{
    public const string SnapshotsFolder = "snapshots";

    private PublicSinkOptions Settings => options.Value.Enabled ? options.Value : throw new InvalidOperationException("The public sink is disabled.");

    private GitBranchWriter Writer() => new(Settings.Remote!, workDirectory.Value.Path, logger);

    private string LockKey => Writer().BranchLockKey;

    public async Task<PublicLocation> PublishAsync(SnapshotCreated snapshot, CancellationToken cancellationToken)
    {
        var id = snapshot.SnapshotId;
        using var work = WorkFolder.Create(workDirectory.Value.Path, "public", id);
        try
        {
            var compressed = Path.Combine(work.Path, "snapshot.tar.gz");
            var manifest = await fetcher.CompressVerifiedAsync(snapshot, compressed, cancellationToken);

            var output = Path.Combine(work.Path, "out");
            Directory.CreateDirectory(output);
            var name = $"{id}.tgb";
            IReadOnlyList<(string FileName, long Size, string Sha256)> files;
            string sha256;
            long size;
            await using (var input = File.OpenRead(compressed))
            await using (var parts = new PartFileStream(output, name, RepositoryFileLimit.MaxBytes))
            {
                await StreamingEncryption.EncryptAsync(input, parts, Settings.Keys!, id, cancellationToken);
                (files, sha256) = parts.Complete();
                size = parts.TotalBytes;
            }

            var entry = new PublicSnapshot(id, size, sha256, Settings.Keys!.PrimaryKeyId,
                files.Select(f => new PublicFile($"{SnapshotsFolder}/{f.FileName}", f.Size, f.Sha256)).ToList(), manifest.DataTime);

            // The files, not the history, carry the snapshots here: a commit always goes on top (never a rewrite), and
            // index.json says which snapshot holds the newest data. The lock only saves instances from racing pushes.
            await using var branchLock = await locks.AcquireAsync(LockKey, lease.Value.Lease, TimeSpan.FromMinutes(10), cancellationToken);
            var commit = await Task.Run(() => Writer().CommitSnapshot(id, $"Encrypted snapshot {id}", manifest.DataTime,
                (repository, parent) => WithSnapshot(repository, parent, output, entry), SnapshotPlacement.OnTop, cancellationToken), cancellationToken);
            LogCopied(logger, id, commit.AlreadyPresent ? "was already in" : "pushed as", commit.Sha, size, entry.KeyId);
            return new PublicLocation
            {
                Repository = Settings.Remote!.RepositoryUrl.ToString(),
                Branch = Settings.Remote.Branch,
                Commit = commit.Sha,
                Files = [.. entry.Files.Select(f => f.File)],
                Size = size,
                Sha256 = sha256,
                KeyId = entry.KeyId,
            };
        }
        catch (GitPermanentException e)
        {
            throw new PermanentFailureException(e.Message, e);
        }
    }

    /// <summary>
    /// Removes snapshots older than <c>RETENTION_HOURS</c> (by their id, as every destination's retention) from the
    /// branch, never the one with the newest data, and the increments that end at or before the oldest snapshot kept
    /// (see <see cref="PublicIncrementRetention"/>), and rewrites the branch as one commit so its history stays bounded.
    /// That is a force push, so it runs only while holding the branch lock: without it (Redis down) it is postponed to
    /// the next cleanup, and backups_meta says so. Returns the snapshot ids removed.
    /// </summary>
    public async Task<IReadOnlyList<string>> CleanupAsync(CancellationToken cancellationToken)
    {
        var cutoff = SnapshotIds.FromTime(time.GetUtcNow() - retention.Value.Retention);
        await using var branchLock = await locks.AcquireAsync(LockKey, lease.Value.Lease, TimeSpan.FromMinutes(10), cancellationToken);
        if (branchLock is null)
        {
            const string why = "the branch lock could not be taken (Redis unavailable): no force push; retention waits for the next cleanup";
            if (await meta.FindLatestSucceededAsync(BackupSinks.Public, cancellationToken) is { } latest)
            {
                await meta.RecordCleanupAsync(latest.Id, BackupSinks.Public, CleanupRecord.Postponed, why, cancellationToken);
            }

            LogRetentionPostponed(logger, Settings.Remote, why);
            throw new CleanupPostponedException(why);
        }

        // Retention never touches work in progress: a snapshot pushed but not yet recorded stays.
        var copying = (await meta.ListSinkCopiesHeldAsync(BackupSinks.Public, cancellationToken)).Select(r => r.Id).ToHashSet();
        var snapshotTimes = (await meta.ListKeptSinkCopiesAsync(BackupSinks.Public, cancellationToken))
            .Where(r => r.Manifest?.ClusterTime is not null)
            .ToDictionary(r => r.Id, r => ChangeEventLine.ToClusterTimestamp(r.Manifest!.ClusterTime!), StringComparer.Ordinal);
        var incrementEnds = (await increments.ListAsync(database.DatabaseNamespace.DatabaseName, cancellationToken))
            .ToDictionary(r => r.Id, r => ChangeEventLine.ToClusterTimestamp(r.To), StringComparer.Ordinal);
        var removed = new List<string>();
        PublicSnapshot? newest = null;
        await Task.Run(() =>
        {
            var writer = Writer();
            var history = writer.History(limit: 1);
            if (history.Count == 0)
            {
                return;
            }

            writer.ReplaceWithOrphan(history[0].SnapshotId ?? "cleanup", "Encrypted snapshots (older ones removed by retention)", time.GetUtcNow(),
                (repository, parent) =>
                {
                    removed.Clear(); // built again when the branch moved meanwhile
                    var index = ReadIndex(parent);
                    newest = index.Newest();
                    var tree = TreeDefinition.From(parent!);
                    foreach (var old in index.Snapshots.Where(s => string.CompareOrdinal(s.Id, cutoff) < 0 && !ReferenceEquals(s, newest) && !copying.Contains(s.Id)).ToList())
                    {
                        foreach (var file in old.Files)
                        {
                            tree.Remove(file.File);
                        }

                        index.Snapshots.Remove(old);
                        removed.Add(old.Id);
                    }

                    var oldestKept = index.Snapshots.OrderBy(s => s.DataTimeOrIdTime).ThenBy(s => s.Id, StringComparer.Ordinal).FirstOrDefault();
                    var keptTime = oldestKept is not null && snapshotTimes.TryGetValue(oldestKept.Id, out var clusterTime) ? clusterTime : null;
                    foreach (var file in PublicIncrementRetention.FilesToRemove(parent, keptTime, incrementEnds))
                    {
                        tree.Remove(file);
                    }

                    AddBlob(repository, tree, PublicIndex.FileName, index.ToJsonBytes());
                    return tree;
                }, cancellationToken);
        }, cancellationToken);

        foreach (var id in removed)
        {
            await meta.MarkSinkCopyRemovedAsync(id, BackupSinks.Public, cancellationToken);
        }

        if (newest is not null)
        {
            await meta.RecordCleanupAsync(newest.Id, BackupSinks.Public, CleanupRecord.Done, null, cancellationToken);
        }

        var removedIds = string.Join(", ", removed);
        LogRetentionDone(logger, removed.Count, removedIds, newest?.Id);
        return removed;
    }

    private static TreeDefinition WithSnapshot(Repository repository, Tree? parent, string folder, PublicSnapshot entry)
    {
        var tree = parent is null ? new TreeDefinition() : TreeDefinition.From(parent);
        var index = ReadIndex(parent);
        index.Snapshots.RemoveAll(s => s.Id == entry.Id);
        index.Snapshots.Add(entry);
        foreach (var file in entry.Files)
        {
            tree.Add(file.File, repository.ObjectDatabase.CreateBlob(Path.Combine(folder, Path.GetFileName(file.File))), Mode.NonExecutableFile);
        }

        AddBlob(repository, tree, PublicIndex.FileName, index.ToJsonBytes());
        AddBlob(repository, tree, PublicBranchReadme.FileName, System.Text.Encoding.UTF8.GetBytes(PublicBranchReadme.Text));
        return tree;
    }

    private static PublicIndex ReadIndex(Tree? tree) =>
        tree?[PublicIndex.FileName]?.Target is Blob blob ? PublicIndex.Parse(ReadAll(blob)) : new PublicIndex();

    private static byte[] ReadAll(Blob blob)
    {
        using var stream = blob.GetContentStream();
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }

    private static void AddBlob(Repository repository, TreeDefinition tree, string path, byte[] content) =>
        tree.Add(path, repository.ObjectDatabase.CreateBlob(new MemoryStream(content)), Mode.NonExecutableFile);

    [LoggerMessage(Level = LogLevel.Information, Message = "Public: snapshot {SnapshotId} {What} commit {Sha} ({Size} bytes encrypted with key {KeyId})")]
    private static partial void LogCopied(ILogger logger, string snapshotId, string what, string sha, long size, string keyId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Public: retention on {Remote} postponed: {Reason}")]
    private static partial void LogRetentionPostponed(ILogger logger, GitRemote? remote, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Public: retention removed {Count} snapshots ({Ids}); newest kept: {Newest}")]
    private static partial void LogRetentionDone(ILogger logger, int count, string ids, string? newest);
}

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
/// Commits an increment to the private repository's backup branch, beside its base snapshot:
/// <c>increments/BASE/ID.json</c> (its manifest, as in the artifact) and <c>increments/BASE/ID.jsonl</c> (its events,
/// plain). One commit per increment, on top of the branch (a fast-forward: it never rewrites, so it goes ahead even
/// without the branch lock, which it takes when it can so that it never races a rewrite). An increment already on the
/// branch is not committed again, and one is committed only after its predecessor, so that the branch never holds an
/// increment that a later delivery would have to slip in below it.
/// </summary>
public sealed partial class GitHubIncrementPublisher(
    IOptions<GitHubSinkOptions> options,
    IOptions<WorkDirectoryOptions> workDirectory,
    IncrementArtifactFetcher fetcher,
    RedisLocks locks,
    IOptions<SinkLeaseOptions> lease,
    ILogger<GitHubIncrementPublisher> logger)
{
    private GitRemote Remote => options.Value.Remote ?? throw new InvalidOperationException("The GitHub sink is disabled.");

    private GitBranchWriter Writer() => new(Remote, workDirectory.Value.Path, logger);

    /// <param name="predecessorFailed">The previous increment of the chain failed for good here: it will never be on the branch, so this one does not wait for it.</param>
    public async Task<GitHubLocation> PublishAsync(IncrementCreated increment, bool predecessorFailed, CancellationToken cancellationToken)
    {
        using var work = WorkFolder.Create(workDirectory.Value.Path, "github-increment", increment.IncrementId);
        try
        {
            var (manifest, manifestBytes, _, eventsFile) = await fetcher.FetchVerifiedAsync(increment, work.Path, cancellationToken);
            var manifestPath = RepositoryLayout.IncrementManifestPath(manifest.BaseSnapshotId, manifest.IncrementId);
            var eventsPath = RepositoryLayout.IncrementEventsPath(manifest.BaseSnapshotId, manifest.IncrementId);
            // Events are kept plain for diffs, in one file: GitHub refuses the push of a file over its limit, every time.
            if (new FileInfo(eventsFile).Length is var eventsBytes && eventsBytes > GitHubFileLimit.MaxBytes)
            {
                throw new PermanentFailureException(
                    $"Increment {manifest.IncrementId}: its events are {eventsBytes} bytes, over GitHub's {GitHubFileLimit.MaxBytes}-byte file limit; nothing was committed (the artifact store and the other destinations keep it).");
            }

            await using var branchLock = await locks.AcquireAsync(Writer().BranchLockKey, lease.Value.Lease, TimeSpan.FromMinutes(10), cancellationToken);
            var commit = await Task.Run(() => Writer().CommitIncrement(manifest.IncrementId, CommitMessage(manifest), manifest.ClosedAt, (repository, tree) =>
            {
                if (tree?[manifestPath] is { } existing)
                {
                    return SameFiles(repository, tree, existing, manifestBytes, eventsPath, eventsFile)
                        ? null
                        : throw new PermanentFailureException($"Increment {manifest.IncrementId}: {manifestPath} on {Remote} holds other content than the artifact; nothing was committed.");
                }

                if (!predecessorFailed && IncrementsOnBranch.MissingPredecessor(tree, RepositoryLayout.IncrementsFolder, RepositoryLayout.ManifestExtension, manifest) is { } predecessor)
                {
                    throw new IncrementOutOfOrderException(
                        $"Increment {manifest.IncrementId} waits for {predecessor}: the branch holds earlier increments of chain {manifest.Chain} but not that one yet.");
                }

                var definition = tree is null ? new TreeDefinition() : TreeDefinition.From(tree);
                definition.Add(manifestPath, repository.ObjectDatabase.CreateBlob(new MemoryStream(manifestBytes)), Mode.NonExecutableFile);
                definition.Add(eventsPath, repository.ObjectDatabase.CreateBlob(eventsFile), Mode.NonExecutableFile);
                return definition;
            }, cancellationToken), cancellationToken);

            LogCopied(logger, manifest.IncrementId, commit.AlreadyPresent ? "was already in" : "pushed as", commit.Sha, Remote);
            return new GitHubLocation { Repository = Remote.RepositoryUrl.ToString(), Branch = Remote.Branch, Commit = commit.Sha };
        }
        catch (GitPermanentException e)
        {
            throw new PermanentFailureException(e.Message, e);
        }
    }

    private static bool SameFiles(Repository repository, Tree tree, TreeEntry manifestEntry, byte[] manifestBytes, string eventsPath, string eventsFile) =>
        manifestEntry.Target is Blob manifest && manifest.Id == repository.ObjectDatabase.CreateBlob(new MemoryStream(manifestBytes)).Id
        && tree[eventsPath]?.Target is Blob events && events.Id == repository.ObjectDatabase.CreateBlob(eventsFile).Id;

    private static string CommitMessage(IncrementManifest manifest) =>
        $"Increment {manifest.IncrementId}: {manifest.Events} events, {ClusterTimestamps.Describe(manifest.From)} to {ClusterTimestamps.Describe(manifest.To)}\n\n"
        + $"chain: {manifest.Chain}\nbase snapshot: {manifest.BaseSnapshotId}\n";

    [LoggerMessage(Level = LogLevel.Information, Message = "GitHub: increment {IncrementId} {What} commit {Sha} on {Remote}")]
    private static partial void LogCopied(ILogger logger, string incrementId, string what, string sha, GitRemote remote);
}

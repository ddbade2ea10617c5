using System.Security.Cryptography;
using LibGit2Sharp;
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
/// Publishes an increment in the open, readable only with the key: the whole increment archive (manifest and events),
/// gzip-compressed and encrypted as the snapshots are (the header names the increment id), committed as
/// <c>increments/BASE/ID.tgb</c>. The path and the commit message say only the ids, which are the base snapshot's and
/// the chain's (snapshot ids, already public) and a sequence number; index.json is left as it is. One commit per
/// increment, on top of the branch (a fast-forward, taken under the branch lock when it can be so that it never races a
/// retention rewrite); an increment already there is not committed again (a file at its path counts only when it
/// decrypts to the artifact: other content there is refused), and one is committed only after its predecessor.
/// </summary>
public sealed partial class PublicIncrementPublisher(
    IOptions<PublicSinkOptions> options,
    IOptions<WorkDirectoryOptions> workDirectory,
    IncrementArtifactFetcher fetcher,
    RedisLocks locks,
    IOptions<SinkLeaseOptions> lease,
    TimeProvider time,
    ILogger<PublicIncrementPublisher> logger)
{
    private PublicSinkOptions Settings => options.Value.Enabled ? options.Value : throw new InvalidOperationException("The public sink is disabled.");

    private GitBranchWriter Writer() => new(Settings.Remote!, workDirectory.Value.Path, logger);

    /// <param name="predecessorFailed">The previous increment of the chain failed for good here: it will never be on the branch, so this one does not wait for it.</param>
    public async Task<PublicLocation> PublishAsync(IncrementCreated increment, bool predecessorFailed, CancellationToken cancellationToken)
    {
        using var work = WorkFolder.Create(workDirectory.Value.Path, "public-increment", increment.IncrementId);
        try
        {
            var verified = await fetcher.FetchVerifiedAsync(increment, work.Path, cancellationToken);
            var manifest = verified.Manifest;
            var path = PublicIncrements.PathOf(manifest.BaseSnapshotId, manifest.IncrementId);
            var encrypted = Path.Combine(work.Path, manifest.IncrementId + PublicIncrements.Extension);
            await PublicIncrements.EncryptAsync(verified.ArtifactFile, encrypted, Settings.Keys!, manifest.IncrementId, cancellationToken);
            var size = new FileInfo(encrypted).Length;
            if (size > RepositoryFileLimit.MaxBytes)
            {
                throw new PermanentFailureException(
                    $"Increment {manifest.IncrementId}: encrypted it is {size} bytes, over the {RepositoryFileLimit.MaxBytes}-byte limit of a file on the branch; it stays in the artifact store.");
            }

            string sha256;
            await using (var file = File.OpenRead(encrypted))
            {
                sha256 = Convert.ToHexStringLower(await SHA256.HashDataAsync(file, cancellationToken));
            }

            var onBranch = Path.Combine(work.Path, "on-branch" + PublicIncrements.Extension);
            await using var branchLock = await locks.AcquireAsync(Writer().BranchLockKey, lease.Value.Lease, TimeSpan.FromMinutes(10), cancellationToken);
            var commit = await Task.Run(() => Writer().CommitIncrement(manifest.IncrementId, $"Encrypted increment {manifest.IncrementId}", time.GetUtcNow(),
                (repository, tree) =>
                {
                    if (tree?[path] is { } existing)
                    {
                        // Encryption takes a fresh salt each time, so a file already there cannot be compared byte for byte:
                        // it is saved here and decrypted below, still under the branch lock.
                        return TrySave(existing, onBranch) ? null : throw OtherContent(manifest.IncrementId, path, "not a file within the size limit of the branch");
                    }

                    if (!predecessorFailed && IncrementsOnBranch.MissingPredecessor(tree, PublicIncrements.Folder, PublicIncrements.Extension, manifest) is { } predecessor)
                    {
                        throw new IncrementOutOfOrderException(
                            $"Increment {manifest.IncrementId} waits for {predecessor}: the branch holds earlier increments of chain {manifest.Chain} but not that one yet.");
                    }

                    var definition = tree is null ? new TreeDefinition() : TreeDefinition.From(tree);
                    definition.Add(path, repository.ObjectDatabase.CreateBlob(encrypted), Mode.NonExecutableFile);
                    return definition;
                }, cancellationToken), cancellationToken);
            if (commit.AlreadyPresent && File.Exists(onBranch) && await WhyNotTheArtifactAsync(onBranch, increment, work.Path, cancellationToken) is { } reason)
            {
                throw OtherContent(manifest.IncrementId, path, reason);
            }

            LogCopied(logger, manifest.IncrementId, commit.AlreadyPresent ? "was already in" : "pushed as", commit.Sha, size, Settings.Keys!.PrimaryKeyId);
            return new PublicLocation
            {
                Repository = Settings.Remote!.RepositoryUrl.ToString(),
                Branch = Settings.Remote.Branch,
                Commit = commit.Sha,
                Files = [path],
                Size = commit.AlreadyPresent ? null : size,
                Sha256 = commit.AlreadyPresent ? null : sha256,
                KeyId = Settings.Keys.PrimaryKeyId,
            };
        }
        catch (GitPermanentException e)
        {
            throw new PermanentFailureException(e.Message, e);
        }
    }

    private PermanentFailureException OtherContent(string incrementId, string path, string reason) =>
        new($"Increment {incrementId}: {path} on {Settings.Remote} is already there with other content than the artifact ({reason}); nothing was committed.");

    // Anything larger than a file of the branch may be is not an increment's file; it is not read.
    private static bool TrySave(TreeEntry entry, string file)
    {
        if (entry.Target is not Blob blob || blob.Size > RepositoryFileLimit.MaxBytes)
        {
            return false;
        }

        using var content = blob.GetContentStream();
        using var output = File.Create(file);
        content.CopyTo(output);
        return true;
    }

    /// <summary>
    /// Null when <paramref name="file"/> is the increment's: it decrypts with the keys (the primary or a previous one),
    /// its header names the increment, and inside is exactly the artifact (its SHA-256); otherwise why not.
    /// </summary>
    private async Task<string?> WhyNotTheArtifactAsync(string file, IncrementCreated increment, string folder, CancellationToken cancellationToken)
    {
        var archive = Path.Combine(folder, "on-branch.tar");
        try
        {
            await PublicIncrements.DecryptAsync(file, archive, Settings.Keys!, increment.IncrementId);
        }
        catch (Exception e) when (e is EncryptedFileException or InvalidDataException or EndOfStreamException)
        {
            return e.Message;
        }

        await using var tar = File.OpenRead(archive);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(tar, cancellationToken)) == increment.ArtifactSha256
            ? null
            : "it decrypts to another archive";
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Public: increment {IncrementId} {What} commit {Sha} ({Size} bytes encrypted with key {KeyId})")]
    private static partial void LogCopied(ILogger logger, string incrementId, string what, string sha, long size, string keyId);
}

using System.IO.Compression;
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
/// retention rewrite); an increment already there is not committed again, and one is committed only after its
/// predecessor.
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
            await EncryptAsync(verified.ArtifactFile, encrypted, manifest.IncrementId, work.Path, cancellationToken);
            var size = new FileInfo(encrypted).Length;
            if (size > RepositoryFileLimit.MaxBytes)
            {
                throw new PermanentFailureException(
                    $"Increment {manifest.IncrementId}: encrypted it is {size} bytes, over the {RepositoryFileLimit.MaxBytes}-byte limit of a file on the branch; it stays in the artifact store.");
            }

            string sha256;
            await using (var file = File.OpenRead(encrypted))
            {
                sha256 = Convert.ToHexStringLower(await System.Security.Cryptography.SHA256.HashDataAsync(file, cancellationToken));
            }

            await using var branchLock = await locks.AcquireAsync(Writer().BranchLockKey, lease.Value.Lease, TimeSpan.FromMinutes(10), cancellationToken);
            var commit = await Task.Run(() => Writer().CommitIncrement(manifest.IncrementId, $"Encrypted increment {manifest.IncrementId}", time.GetUtcNow(),
                (repository, tree) =>
                {
                    if (tree?[path] is not null)
                    {
                        // Encryption takes a fresh salt each time: the copy already there is the increment (its header names it).
                        return null;
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

    // As a snapshot: the archive gzip-compressed, then encrypted with the primary key, the increment id in the header.
    private async Task EncryptAsync(string archive, string encrypted, string incrementId, string folder, CancellationToken cancellationToken)
    {
        var compressed = Path.Combine(folder, "increment.tar.gz");
        await using (var input = File.OpenRead(archive))
        await using (var output = File.Create(compressed))
        await using (var gzip = new GZipStream(output, CompressionLevel.Optimal))
        {
            await input.CopyToAsync(gzip, cancellationToken);
        }

        await using (var plaintext = File.OpenRead(compressed))
        await using (var ciphertext = File.Create(encrypted))
        {
            await StreamingEncryption.EncryptAsync(plaintext, ciphertext, Settings.Keys!, incrementId, cancellationToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Public: increment {IncrementId} {What} commit {Sha} ({Size} bytes encrypted with key {KeyId})")]
    private static partial void LogCopied(ILogger logger, string incrementId, string what, string sha, long size, string keyId);
}

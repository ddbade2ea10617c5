using System.Security.Cryptography;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Crypto;
using TeleGuard.Backup.Git;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations.Public;

/// <summary>
/// Reads a snapshot back from the public branch: its encrypted file(s), checked against index.json, decrypted,
/// unpacked. The snapshot is bound to what was asked for (<c>latest</c> means the newest data in index.json): a version
/// 2 file must name that snapshot in its authenticated header, and the archive's manifest (authenticated too, inside
/// the ciphertext) must name it as well, which also covers version 1 files whose header names none.
/// </summary>
public sealed class PublicDestination(IOptions<PublicSinkOptions> options) : IBackupDestination
{
    public string Name => BackupSinks.Public;

    public bool IsEnabled => options.Value.Enabled;

    public string EnabledBy =>
        $"{EncryptionKeyOptions.KeyVariable} (and {EncryptionKeyOptions.PreviousKeysVariable} for older snapshots), {PublicSinkOptions.PublicRepositoryVariable} and {PublicSinkOptions.TokenVariable}";

    public bool ReadsBackupsMeta => false;

    public string DescribeCopy(SinkRecord copy) => copy.LocationAs<PublicLocation>() is { } location
        ? CopyDescription.Join(CopyDescription.Commit(location.Commit, location.Branch, location.Repository), CopyDescription.Files(location.Files),
            CopyDescription.Size(location.Size), CopyDescription.Key(location.KeyId))
        : CopyDescription.Join();

    public async Task<SnapshotManifest> FetchAsync(string snapshot, string folder, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (settings is not { Enabled: true, Remote: { } remote, Keys: { } keys })
        {
            throw new InvalidOperationException($"--from {Name} needs {EnabledBy}.");
        }

        var download = folder + ".public";
        try
        {
            if (new GitBranchWriter(remote, download + ".git", NullLogger.Instance).ExportTree(null, "", download) is null)
            {
                throw new InvalidOperationException($"{remote} has no snapshot.");
            }

            var indexFile = new FileInfo(Path.Combine(download, PublicIndex.FileName));
            if (!indexFile.Exists || indexFile.Length > PublicIndex.MaxBytes)
            {
                throw new InvalidDataException($"{remote} has no {PublicIndex.FileName} of at most {PublicIndex.MaxBytes} bytes.");
            }

            var index = PublicIndex.Parse(await File.ReadAllBytesAsync(indexFile.FullName, cancellationToken));
            var entry = (snapshot == "latest" ? index.Newest() : index.Snapshots.SingleOrDefault(s => s.Id == snapshot))
                ?? throw new InvalidOperationException($"Snapshot {snapshot} is not on {remote}.");
            var files = entry.Files.Select(f => UntrustedPaths.Resolve(download, f.File, PublicIndex.FileName)).ToList();
            foreach (var (file, listed) in files.Zip(entry.Files))
            {
                await using var stream = File.OpenRead(file);
                if (Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken)) != listed.Sha256)
                {
                    throw new InvalidDataException($"Snapshot {entry.Id}: {listed.File} does not match the SHA-256 in index.json.");
                }
            }

            var archive = download + ".tar";
            try
            {
                await using var ciphertext = new ConcatenatedFilesStream(files);
                await EncryptedArchive.DecryptAsync(ciphertext, archive, keys, entry.Id);
            }
            catch (EncryptedFileException e)
            {
                throw new EncryptedFileException($"Snapshot {entry.Id}: {entry.Files[0].File}: {e.Message}");
            }

            await using var tar = File.OpenRead(archive);
            return FetchedCopy.EnsureHolds(await SnapshotArchive.ExtractAsync(tar, folder, cancellationToken), entry.Id, folder, $"the public copy on {remote}");
        }
        finally
        {
            FetchedCopy.DeleteScratch(download, download + ".git", download + ".tar");
        }
    }
}

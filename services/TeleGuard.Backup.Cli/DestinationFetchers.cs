using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MongoDB.Bson;
using TeleGuard.Backup.Crypto;
using TeleGuard.Backup.Encryption;
using TeleGuard.Backup.Git;
using TeleGuard.Backup.GitHub;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Snapshots;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.Telegram;

namespace TeleGuard.Backup.Cli;

/// <summary>
/// Fetches a snapshot from a destination into a folder, verified against its manifest before anything uses it.
/// Configuration comes from the same variables as the sinks (GITHUB_*, ENCRYPTION_*, TELEGRAM_*, MONGODB_URI).
/// </summary>
public static class DestinationFetchers
{
    /// <summary>
    /// The private repository: the <c>snapshot/</c> folder of the commit holding the snapshot, or for "latest" of the
    /// branch head (the branch is kept in data order, so the head is the newest data).
    /// </summary>
    public static async Task<SnapshotManifest> FromGitHubAsync(IConfiguration configuration, string snapshot, string folder)
    {
        var options = Load<GitHubSinkOptions>(configuration);
        if (!options.Enabled)
        {
            throw new InvalidOperationException("--from github needs GITHUB_REPO and GITHUB_TOKEN.");
        }

        var scratch = folder + ".git";
        string? found;
        try
        {
            found = new GitBranchWriter(options.Remote!, scratch, NullLogger.Instance).ExportTree(snapshot == "latest" ? null : snapshot, RepositoryLayout.Folder, folder);
        }
        finally
        {
            if (Directory.Exists(scratch))
            {
                Directory.Delete(scratch, recursive: true);
            }
        }

        if (found is null)
        {
            throw new InvalidOperationException($"Snapshot {snapshot} is not on {options.Remote}.");
        }

        return EnsureHolds(await SnapshotArchive.VerifyDirectoryAsync(folder, CancellationToken.None), found, folder, $"the commit on {options.Remote}");
    }

    /// <summary>
    /// The public branch: the encrypted file(s) of the snapshot, checked against index.json, decrypted, unpacked. The
    /// snapshot is bound to what was asked for ("latest" means the newest data in index.json): a version 2 file must name
    /// that snapshot in its authenticated header, and the archive's manifest (authenticated too, inside the ciphertext)
    /// must name it as well, which also covers version 1 files whose header names none.
    /// </summary>
    public static async Task<SnapshotManifest> FromPublicAsync(IConfiguration configuration, string snapshot, string folder)
    {
        var options = Load<EncryptionSinkOptions>(configuration);
        if (!options.Enabled)
        {
            throw new InvalidOperationException("--from public needs ENCRYPTION_KEY (and ENCRYPTION_PREVIOUS_KEYS for older snapshots), GITHUB_PUBLIC_REPO or GITHUB_REPO, and GITHUB_TOKEN.");
        }

        var download = folder + ".public";
        try
        {
            var writer = new GitBranchWriter(options.Remote!, download + ".git", NullLogger.Instance);
            if (writer.ExportTree(null, "", download) is null)
            {
                throw new InvalidOperationException($"{options.Remote} has no snapshot.");
            }

            var indexFile = new FileInfo(Path.Combine(download, PublicIndex.FileName));
            if (!indexFile.Exists || indexFile.Length > PublicIndex.MaxBytes)
            {
                throw new InvalidDataException($"{options.Remote} has no {PublicIndex.FileName} of at most {PublicIndex.MaxBytes} bytes.");
            }

            var index = PublicIndex.Parse(await File.ReadAllBytesAsync(indexFile.FullName));
            var entry = (snapshot == "latest" ? index.Newest() : index.Snapshots.SingleOrDefault(s => s.Id == snapshot))
                ?? throw new InvalidOperationException($"Snapshot {snapshot} is not on {options.Remote}.");
            var files = entry.Files.Select(f => UntrustedPaths.Resolve(download, f.File, PublicIndex.FileName)).ToList();
            foreach (var (file, listed) in files.Zip(entry.Files))
            {
                await using var stream = File.OpenRead(file);
                if (Convert.ToHexStringLower(await System.Security.Cryptography.SHA256.HashDataAsync(stream)) != listed.Sha256)
                {
                    throw new InvalidDataException($"Snapshot {entry.Id}: {listed.File} does not match the SHA-256 in index.json.");
                }
            }

            var archive = download + ".tar";
            try
            {
                await using var ciphertext = new ConcatenatedFilesStream(files);
                await EncryptedArchive.DecryptAsync(ciphertext, archive, options.Keys!, entry.Id);
            }
            catch (EncryptedFileException e)
            {
                throw new EncryptedFileException($"Snapshot {entry.Id}: {entry.Files[0].File}: {e.Message}");
            }

            await using var tar = File.OpenRead(archive);
            return EnsureHolds(await SnapshotArchive.ExtractAsync(tar, folder, CancellationToken.None), entry.Id, folder, $"the public copy on {options.Remote}");
        }
        finally
        {
            foreach (var path in new[] { download, download + ".git" })
            {
                if (Directory.Exists(path))
                {
                    Directory.Delete(path, recursive: true);
                }
            }

            File.Delete(download + ".tar");
        }
    }

    // A copy of another snapshot under the requested one's name (swapped or rolled back) is refused, and its files deleted.
    private static SnapshotManifest EnsureHolds(SnapshotManifest manifest, string snapshotId, string folder, string where)
    {
        if (manifest.SnapshotId == snapshotId)
        {
            return manifest;
        }

        Directory.Delete(folder, recursive: true);
        var claimed = SnapshotIds.IsValid(manifest.SnapshotId) ? manifest.SnapshotId : UntrustedPaths.Quote(manifest.SnapshotId ?? "");
        throw new InvalidDataException($"Snapshot {snapshotId}: {where} holds snapshot {claimed} (its manifest says so): it was swapped, rolled back or renamed.");
    }

    /// <summary>
    /// Telegram: the parts recorded in backups_meta, downloaded with getFile, checked, joined, decrypted when the copy is
    /// encrypted (with TELEGRAM_ENCRYPTION_KEY or TELEGRAM_ENCRYPTION_PREVIOUS_KEYS; a missing or wrong key is said before
    /// anything is downloaded), unpacked. Copies made without encryption restore whatever keys are set.
    /// </summary>
    public static async Task<SnapshotManifest> FromTelegramAsync(IConfiguration configuration, BackupsMetaStore meta, string snapshot, string folder)
    {
        var options = Load<TelegramSinkOptions>(configuration);
        if (!options.Enabled)
        {
            throw new InvalidOperationException("--from telegram needs TELEGRAM_BOT_TOKEN and TELEGRAM_CHANNEL_ID (and TELEGRAM_API_BASE_URL with TELEGRAM_LOCAL_API=true for a local server).");
        }

        var record = snapshot == "latest"
            ? await meta.FindLatestSucceededAsync(BackupSinks.Telegram, CancellationToken.None)
            : await meta.GetAsync(snapshot, CancellationToken.None);
        var location = record?.Sinks.GetValueOrDefault(BackupSinks.Telegram) is { Status: SinkStatus.Succeeded, RemovedAt: null } copy ? copy.Location : null;
        if (record is null || location is null)
        {
            throw new InvalidOperationException($"Snapshot {snapshot} has no Telegram copy recorded in backups_meta.");
        }

        var parts = location["parts"].AsBsonArray.Select(p => p.AsBsonDocument).OrderBy(p => p["index"].AsInt32).ToList();
        if (!options.LocalApi && parts.FirstOrDefault(p => p["size"].ToInt64() > TelegramLimits.HostedDownloadBytes) is { } tooLarge)
        {
            // Said before downloading anything: getFile would refuse this part after the others had been fetched.
            throw new InvalidOperationException(
                $"Snapshot {record.Id}: Telegram part {tooLarge["index"]} is {tooLarge["size"].ToInt64()} bytes, more than the hosted Bot API serves (20 MB); " +
                $"restore it through a local Bot API server ({TelegramSinkOptions.BaseUrlVariable} and {TelegramSinkOptions.LocalApiVariable}=true).");
        }

        var keys = location.GetValue("encrypted", false).ToBoolean() ? TelegramKeysFor(record.Id, location, options) : null;
        using var channel = new TelegramChannel(Options.Create(options), TimeProvider.System, NullLogger<TelegramChannel>.Instance);
        var archive = folder + ".telegram";
        try
        {
            await using (var output = File.Create(archive))
            {
                foreach (var part in parts)
                {
                    // Each part through a file: local-server parts can be hundreds of megabytes.
                    var partFile = archive + ".part";
                    await using (var download = File.Create(partFile))
                    {
                        await channel.DownloadAsync(part["fileId"].AsString, download, CancellationToken.None);
                    }

                    await using (var downloaded = File.OpenRead(partFile))
                    {
                        if (Convert.ToHexStringLower(await System.Security.Cryptography.SHA256.HashDataAsync(downloaded)) != part["sha256"].AsString)
                        {
                            throw new InvalidDataException($"Snapshot {record.Id}: Telegram part {part["index"]} (message {part["messageId"]}) does not match its recorded SHA-256.");
                        }

                        downloaded.Position = 0;
                        await downloaded.CopyToAsync(output);
                    }

                    File.Delete(partFile);
                }
            }

            await using (var check = File.OpenRead(archive))
            {
                if (Convert.ToHexStringLower(await System.Security.Cryptography.SHA256.HashDataAsync(check)) != location["archiveSha256"].AsString)
                {
                    throw new InvalidDataException($"Snapshot {record.Id}: the joined Telegram parts do not match the archive's recorded SHA-256.");
                }
            }

            SnapshotManifest manifest;
            if (keys is null)
            {
                await using var compressed = File.OpenRead(archive);
                await using var tar = new System.IO.Compression.GZipStream(compressed, System.IO.Compression.CompressionMode.Decompress);
                manifest = await SnapshotArchive.ExtractAsync(tar, folder, CancellationToken.None);
            }
            else
            {
                try
                {
                    await using var ciphertext = File.OpenRead(archive);
                    await EncryptedArchive.DecryptAsync(ciphertext, archive + ".tar", keys, record.Id);
                }
                catch (EncryptedFileException e)
                {
                    throw new EncryptedFileException($"Snapshot {record.Id}: the Telegram copy: {e.Message}");
                }

                await using var tar = File.OpenRead(archive + ".tar");
                manifest = await SnapshotArchive.ExtractAsync(tar, folder, CancellationToken.None);
            }

            return EnsureHolds(manifest, record.Id, folder, "the Telegram copy");
        }
        finally
        {
            File.Delete(archive);
            File.Delete(archive + ".part");
            File.Delete(archive + ".tar");
        }
    }

    // The keys that decrypt an encrypted Telegram copy, or a one-line refusal naming the key it needs (its id only).
    private static EncryptionKeyRing TelegramKeysFor(string snapshotId, BsonDocument location, TelegramSinkOptions options)
    {
        // From backups_meta: printed only when it has the shape of a key id.
        var recorded = location.GetValue("keyId", "").ToString()!;
        var keyId = recorded.Length == 16 && recorded.All(char.IsAsciiHexDigitLower) ? recorded : "(unreadable id)";
        if (options.EncryptionKeys is not { } keys)
        {
            throw new InvalidOperationException(
                $"Snapshot {snapshotId}: the Telegram copy is encrypted with key {keyId}; set {TelegramSinkOptions.EncryptionKeyVariable} " +
                $"(or {TelegramSinkOptions.EncryptionPreviousKeysVariable}) to that key to restore it.");
        }

        if (!keys.KeyIds.Contains(recorded))
        {
            throw new InvalidOperationException(
                $"Snapshot {snapshotId}: the Telegram copy is encrypted with key {keyId}, which is neither {TelegramSinkOptions.EncryptionKeyVariable} " +
                $"(key {keys.PrimaryKeyId}) nor among {TelegramSinkOptions.EncryptionPreviousKeysVariable}.");
        }

        return keys;
    }

    private static T Load<T>(IConfiguration configuration) where T : TeleGuard.Backup.Configuration.EnvironmentOptions, new()
    {
        var options = new T();
        options.Load(configuration);
        if (options.ConfigurationErrors.Count > 0)
        {
            throw new OptionsValidationException(typeof(T).Name, typeof(T), options.ConfigurationErrors);
        }

        return options;
    }
}

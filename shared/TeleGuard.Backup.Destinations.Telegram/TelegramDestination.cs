using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MongoDB.Driver;
using TeleGuard.Backup.Crypto;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>
/// Reads a snapshot back from Telegram: the parts recorded in backups_meta, downloaded with getFile, checked, joined, decrypted when the copy is
/// encrypted (with TELEGRAM_ENCRYPTION_KEY or TELEGRAM_ENCRYPTION_PREVIOUS_KEYS; a missing or wrong key is said before
/// anything is downloaded), unpacked. Copies made without encryption restore whatever keys are set. It restores to a time
/// too, from the increment batches the sink sent.
/// </summary>
public sealed class TelegramDestination(IOptions<TelegramSinkOptions> configured, IServiceProvider services) : IBackupDestination, IPointInTimeSource
{
    public string Name => BackupSinks.Telegram;

    public bool IsEnabled => configured.Value.Enabled;

    public string EnabledBy =>
        $"{TelegramSinkOptions.TokenVariable} and {TelegramSinkOptions.ChannelVariable} (and {TelegramSinkOptions.BaseUrlVariable} with {TelegramSinkOptions.LocalApiVariable}=true for a local server)";

    public bool ReadsBackupsMeta => true;

    public string DescribeCopy(SinkRecord copy) => copy.LocationAs<TelegramLocation>() is { } location
        ? CopyDescription.Join(Messages(location), CopyDescription.Key(location.KeyId))
        : CopyDescription.Join();

    public string? DescribeRemoval(SinkRecord copy) => copy.RemovalAs<TelegramRemoval>() is { UndeletableMessageIds.Count: > 0 and var stayed }
        ? $"{stayed} messages too old for a bot to delete stay: delete them by hand"
        : null;

    // "2 of 3 parts as messages 10, 11 in chat -100…".
    private static string Messages(TelegramLocation location)
    {
        var ids = location.Parts.Select(p => p.MessageId).ToList();
        return $"{ids.Count} of {location.PartCount} parts as messages {(ids.Count == 0 ? "(none yet)" : string.Join(", ", ids))} in chat {location.ChatId ?? "?"}";
    }

    public async Task<SnapshotManifest> FetchAsync(string snapshot, string folder, CancellationToken cancellationToken)
    {
        var options = configured.Value;
        if (!options.Enabled)
        {
            throw new InvalidOperationException($"--from {Name} needs {EnabledBy}.");
        }

        // Resolved here, not injected: a host that only restores from a repository needs no MONGODB_URI.
        var meta = services.GetRequiredService<BackupsMetaStore>();

        var record = snapshot == "latest"
            ? await meta.FindLatestSucceededAsync(BackupSinks.Telegram, cancellationToken)
            : await meta.GetAsync(snapshot, cancellationToken);
        var location = record?.Sinks.GetValueOrDefault(BackupSinks.Telegram) is { Status: SinkStatus.Succeeded, RemovedAt: null } copy
            ? copy.LocationAs<TelegramLocation>()
            : null;
        if (record is null || location is null)
        {
            throw new InvalidOperationException($"Snapshot {snapshot} has no Telegram copy recorded in backups_meta.");
        }

        var keys = location.Encrypted ? TelegramKeysFor($"Snapshot {record.Id}", location, options) : null;
        using var channel = new TelegramChannel(configured, TimeProvider.System, NullLogger<TelegramChannel>.Instance);
        var archive = folder + ".telegram";
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(folder))!); // the download goes beside the folder
        try
        {
            await using var tar = await DownloadAsync(channel, $"Snapshot {record.Id}", record.Id, location, keys, archive, cancellationToken);
            var manifest = await SnapshotArchive.ExtractAsync(tar, folder, cancellationToken);
            return FetchedCopy.EnsureHolds(manifest, record.Id, folder, "the Telegram copy");
        }
        finally
        {
            DeleteDownload(archive);
        }
    }

    /// <summary>
    /// The snapshot held in the channel and the increment batches after it up to the time: chosen from the records
    /// (snapshot copies and increments whose batch was sent and not removed), then every batch downloaded, checked
    /// against its recorded parts and archive SHA-256, decrypted, and every increment in it checked against its record
    /// and its manifest; the chain is checked last. Entries of a batch that were not asked for are read past.
    /// </summary>
    public async Task<PointInTimeCopy> FetchToTimeAsync(ClusterTimestamp? target, string folder, CancellationToken cancellationToken)
    {
        var options = configured.Value;
        if (!options.Enabled)
        {
            throw new InvalidOperationException($"--from {Name} needs {EnabledBy}.");
        }

        var meta = services.GetRequiredService<BackupsMetaStore>();
        var database = services.GetRequiredService<IMongoDatabase>();
        var batches = new TelegramBatchStore(database, TimeProvider.System);
        var databaseName = database.DatabaseNamespace.DatabaseName;
        var snapshots = (await meta.ListKeptSinkCopiesAsync(BackupSinks.Telegram, cancellationToken)).ToList();
        var held = new Dictionary<string, TelegramIncrementBatch>(StringComparer.Ordinal);
        var increments = new List<IncrementRecord>();
        foreach (var increment in await services.GetRequiredService<IncrementsStore>().ListSinkCopiedAsync(databaseName, BackupSinks.Telegram, cancellationToken))
        {
            var batchId = increment.Sinks[BackupSinks.Telegram].LocationAs<TelegramIncrementLocation>()?.BatchId ?? "";
            if (!held.TryGetValue(batchId, out var batch) && await batches.GetAsync(batchId, cancellationToken) is { } found)
            {
                held[batchId] = batch = found;
            }

            if (batch is { Status: TelegramIncrementBatch.Sent, RemovedAt: null, Location: not null } && batch.IncrementIds.Contains(increment.Id))
            {
                increments.Add(increment);
            }
        }

        var (snapshot, chosen, time) = PointInTimePlanner.Choose(snapshots, increments, target, databaseName);
        var snapshotFolder = Path.Combine(folder, "snapshot");
        var manifest = await FetchAsync(snapshot.Id, snapshotFolder, cancellationToken);
        var incrementsFolder = Path.Combine(folder, "increments");
        Directory.CreateDirectory(incrementsFolder);
        using var channel = new TelegramChannel(configured, TimeProvider.System, NullLogger<TelegramChannel>.Instance);
        var extracted = new Dictionary<string, ExtractedIncrement>(StringComparer.Ordinal);
        foreach (var group in chosen.GroupBy(i => i.Sinks[BackupSinks.Telegram].LocationAs<TelegramIncrementLocation>()!.BatchId))
        {
            var batch = held[group.Key];
            var wanted = group.ToDictionary(i => $"{i.Id}.tar", StringComparer.Ordinal);
            var keys = batch.Location!.Encrypted ? TelegramKeysFor($"Increment batch {batch.Id}", batch.Location, options) : null;
            var archive = Path.Combine(incrementsFolder, batch.Id + ".telegram");
            try
            {
                await using var tar = await DownloadAsync(channel, $"Increment batch {batch.Id}", batch.Id, batch.Location, keys, archive, cancellationToken);
                await using var reader = new TarReader(tar);
                while (await reader.GetNextEntryAsync(copyData: false, cancellationToken) is { } entry)
                {
                    if (!wanted.Remove(entry.Name, out var record) || entry.DataStream is null)
                    {
                        continue;
                    }

                    extracted[record.Id] = await ExtractIncrementAsync(entry.DataStream, record, Path.Combine(incrementsFolder, $"{record.Id}.jsonl"), cancellationToken);
                }
            }
            finally
            {
                DeleteDownload(archive);
            }

            if (wanted.Count > 0)
            {
                throw new InvalidDataException($"Increment batch {batch.Id} does not hold increment {wanted.Values.First().Id}, which its record says it does.");
            }
        }

        var pointInTime = new PointInTime(time, chosen.Select(i => extracted[i.Id]).ToList());
        return new PointInTimeCopy(manifest, snapshotFolder, pointInTime with { Increments = await IncrementChain.CheckAsync(manifest, pointInTime, cancellationToken) });
    }

    // One increment's archive from a batch, checked as a whole against its record and its events against its manifest.
    private static async Task<ExtractedIncrement> ExtractIncrementAsync(Stream data, IncrementRecord record, string eventsFile, CancellationToken cancellationToken)
    {
        await using var hashing = new HashingStream(data, leaveOpen: true);
        var manifest = await IncrementArchive.ExtractAsync(hashing, eventsFile, record.Id, cancellationToken);
        await hashing.CopyToAsync(Stream.Null, cancellationToken); // tar padding after the last entry
        if (hashing.GetSha256() != record.Artifact.Sha256 || manifest.Sha256 != record.Sha256)
        {
            File.Delete(eventsFile);
            throw new InvalidDataException($"Increment {record.Id}: the copy in Telegram is not the one recorded in backups_meta (its SHA-256 differs).");
        }

        return new ExtractedIncrement(manifest, eventsFile);
    }

    // Downloads the parts of a copy (a snapshot or an increment batch) into archive, each checked against its recorded
    // SHA-256 and the joined file against the archive's; returns the tar inside (gunzipped, or decrypted when encrypted).
    private async Task<Stream> DownloadAsync(TelegramChannel channel, string what, string copyId, TelegramLocation location, EncryptionKeyRing? keys,
        string archive, CancellationToken cancellationToken)
    {
        var parts = location.Parts.OrderBy(p => p.Index).ToList();
        if (!configured.Value.LocalApi && parts.FirstOrDefault(p => p.Size > TelegramLimits.HostedDownloadBytes) is { } tooLarge)
        {
            // Said before downloading anything: getFile would refuse this part after the others had been fetched.
            throw new InvalidOperationException(
                $"{what}: Telegram part {tooLarge.Index} is {tooLarge.Size} bytes, more than the hosted Bot API serves (20 MB); " +
                $"restore it through a local Bot API server ({TelegramSinkOptions.BaseUrlVariable} and {TelegramSinkOptions.LocalApiVariable}=true).");
        }

        await using (var output = File.Create(archive))
        {
            foreach (var part in parts)
            {
                // Each part through a file: local-server parts can be hundreds of megabytes.
                var partFile = archive + ".part";
                await using (var download = File.Create(partFile))
                {
                    await channel.DownloadAsync(part.FileId, download, cancellationToken);
                }

                await using (var downloaded = File.OpenRead(partFile))
                {
                    if (Convert.ToHexStringLower(await SHA256.HashDataAsync(downloaded, cancellationToken)) != part.Sha256)
                    {
                        throw new InvalidDataException($"{what}: Telegram part {part.Index} (message {part.MessageId}) does not match its recorded SHA-256.");
                    }

                    downloaded.Position = 0;
                    await downloaded.CopyToAsync(output, cancellationToken);
                }

                File.Delete(partFile);
            }
        }

        await using (var check = File.OpenRead(archive))
        {
            if (Convert.ToHexStringLower(await SHA256.HashDataAsync(check, cancellationToken)) != location.ArchiveSha256)
            {
                throw new InvalidDataException($"{what}: the joined Telegram parts do not match the archive's recorded SHA-256.");
            }
        }

        if (keys is null)
        {
            return new GZipStream(File.OpenRead(archive), CompressionMode.Decompress);
        }

        try
        {
            await using var ciphertext = File.OpenRead(archive);
            await EncryptedArchive.DecryptAsync(ciphertext, archive + ".tar", keys, copyId);
        }
        catch (EncryptedFileException e)
        {
            throw new EncryptedFileException($"{what}: the Telegram copy: {e.Message}");
        }

        return File.OpenRead(archive + ".tar");
    }

    private static void DeleteDownload(string archive)
    {
        File.Delete(archive);
        File.Delete(archive + ".part");
        File.Delete(archive + ".tar");
    }

    // The keys that decrypt an encrypted Telegram copy, or a one-line refusal naming the key it needs (its id only).
    private static EncryptionKeyRing TelegramKeysFor(string what, TelegramLocation location, TelegramSinkOptions options)
    {
        // From backups_meta: printed only when it has the shape of a key id.
        var recorded = location.KeyId ?? "";
        var keyId = recorded.Length == 16 && recorded.All(char.IsAsciiHexDigitLower) ? recorded : "(unreadable id)";
        if (options.EncryptionKeys is not { } keys)
        {
            throw new InvalidOperationException(
                $"{what}: the Telegram copy is encrypted with key {keyId}; set {TelegramSinkOptions.EncryptionKeyVariable} " +
                $"(or {TelegramSinkOptions.EncryptionPreviousKeysVariable}) to that key to restore it.");
        }

        if (!keys.KeyIds.Contains(recorded))
        {
            throw new InvalidOperationException(
                $"{what}: the Telegram copy is encrypted with key {keyId}, which is neither {TelegramSinkOptions.EncryptionKeyVariable} " +
                $"(key {keys.PrimaryKeyId}) nor among {TelegramSinkOptions.EncryptionPreviousKeysVariable}.");
        }

        return keys;
    }
}

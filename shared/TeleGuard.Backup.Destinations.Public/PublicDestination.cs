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
/// the ciphertext) must name it as well, which also covers version 1 files whose header names none. It also holds the
/// increments (<c>increments/BASE/ID.tgb</c>, encrypted the same way), so it can restore to a time.
/// </summary>
public sealed class PublicDestination(IOptions<PublicSinkOptions> options) : IBackupDestination, IPointInTimeSource
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
        var (remote, keys) = Configured();
        var download = folder + ".public";
        try
        {
            if (new GitBranchWriter(remote, download + ".git", NullLogger.Instance).ExportTree(null, "", download) is null)
            {
                throw new InvalidOperationException($"{remote} has no snapshot.");
            }

            var index = await ReadIndexAsync(download, remote, cancellationToken);
            return await FetchSnapshotAsync(download, remote, keys, index, snapshot, folder, cancellationToken);
        }
        finally
        {
            FetchedCopy.DeleteScratch(download, download + ".git", download + ".tar");
        }
    }

    /// <summary>
    /// Decrypts every increment on the branch head (<c>increments/BASE/ID.tgb</c>: the header must name ID, the archive
    /// inside must hold ID, its manifest must name BASE), chooses the snapshot and the run of increments from them and
    /// the data times in index.json, then fetches and checks that snapshot and chooses again from its own cluster time
    /// among the increments of its database only, and checks the chain and events (<see cref="IncrementChain.CheckAsync"/>)
    /// before anything is returned.
    /// </summary>
    public async Task<PointInTimeCopy> FetchToTimeAsync(ClusterTimestamp? target, string folder, CancellationToken cancellationToken)
    {
        var (remote, keys) = Configured();
        var download = folder + ".public";
        try
        {
            if (!new GitBranchWriter(remote, download + ".git", NullLogger.Instance).ExportHeadTree("", download))
            {
                throw new InvalidOperationException($"{remote} has no snapshot.");
            }

            var index = await ReadIndexAsync(download, remote, cancellationToken);
            var incrementsFolder = Path.Combine(folder, "increments");
            Directory.CreateDirectory(incrementsFolder);
            var onBranch = await DecryptIncrementsAsync(Path.Combine(download, PublicIncrements.Folder), incrementsFolder, remote, keys, cancellationToken);
            var links = onBranch.Select(i => IncrementLink.Of(i.Manifest)).ToList();
            var databases = onBranch.Count == 0 ? "(none on the branch)" : string.Join(", ", onBranch.Select(i => i.Manifest.Database).Distinct(StringComparer.Ordinal));

            // index.json keeps each snapshot's data time in whole seconds (it is not authenticated: it only chooses). Taken
            // as the end of that second, a snapshot is never chosen for a time before its data.
            var approximate = index.Snapshots.Where(s => s.DataTime is { } time && time.ToUnixTimeSeconds() is >= 0 and <= uint.MaxValue)
                .Select(s => new SnapshotStart(s.Id, new ClusterTimestamp((uint)s.DataTime!.Value.ToUnixTimeSeconds(), uint.MaxValue))).ToList();
            var snapshotFolder = Path.Combine(folder, "snapshot");
            SnapshotManifest manifest;
            while (true)
            {
                var (candidate, _, _) = PointInTimePlanner.Choose(approximate, links, target, databases);
                if (Directory.Exists(snapshotFolder))
                {
                    Directory.Delete(snapshotFolder, recursive: true);
                }

                manifest = await FetchSnapshotAsync(download, remote, keys, index, candidate.SnapshotId, snapshotFolder, cancellationToken);
                if (manifest.Consistency is { Mode: SnapshotConsistency.Snapshot, ClusterTime: not null })
                {
                    break;
                }

                // Not read at one cluster time (its export outlasted the server's snapshot history): no replay can start
                // from it, but an older snapshot still can.
                approximate.RemoveAll(s => s.SnapshotId == candidate.SnapshotId);
            }

            var start = new SnapshotStart(manifest.SnapshotId, IncrementChain.SnapshotTime(manifest));

            // The restore is of the snapshot's database (its manifest is authenticated): increments of any other database on
            // the branch are left out, also from where "latest" ends, and never replayed.
            var ofDatabase = onBranch.Where(i => i.Manifest.Database == manifest.Source.Database).ToList();
            var (_, chosen, time) = PointInTimePlanner.Choose([start], ofDatabase.Select(i => IncrementLink.Of(i.Manifest)).ToList(), target, manifest.Source.Database);
            var byId = ofDatabase.ToDictionary(i => i.Manifest.IncrementId, StringComparer.Ordinal);
            var pointInTime = new PointInTime(time, chosen.Select(l => byId[l.IncrementId]).ToList());
            return new PointInTimeCopy(manifest, snapshotFolder, pointInTime with { Increments = await IncrementChain.CheckAsync(manifest, pointInTime, cancellationToken) });
        }
        finally
        {
            FetchedCopy.DeleteScratch(download, download + ".git", download + ".tar");
        }
    }

    private (GitRemote Remote, EncryptionKeyRing Keys) Configured() => options.Value is { Enabled: true, Remote: { } remote, Keys: { } keys }
        ? (remote, keys)
        : throw new InvalidOperationException($"--from {Name} needs {EnabledBy}.");

    private static async Task<PublicIndex> ReadIndexAsync(string download, GitRemote remote, CancellationToken cancellationToken)
    {
        var indexFile = new FileInfo(Path.Combine(download, PublicIndex.FileName));
        if (!indexFile.Exists || indexFile.Length > PublicIndex.MaxBytes)
        {
            throw new InvalidDataException($"{remote} has no {PublicIndex.FileName} of at most {PublicIndex.MaxBytes} bytes.");
        }

        return PublicIndex.Parse(await File.ReadAllBytesAsync(indexFile.FullName, cancellationToken));
    }

    private static async Task<SnapshotManifest> FetchSnapshotAsync(string download, GitRemote remote, EncryptionKeyRing keys, PublicIndex index, string snapshot,
        string folder, CancellationToken cancellationToken)
    {
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

    /// <summary>
    /// Every increment under <paramref name="folder"/> (the branch's <c>increments/</c>), decrypted, its events written
    /// to <c>DESTINATION/ID.jsonl</c> and checked against its manifest. Anything else there, a file whose header or
    /// archive names another increment, one filed under another base snapshot than its manifest names, or an increment
    /// there twice (under two base snapshots) is refused.
    /// </summary>
    private static async Task<List<ExtractedIncrement>> DecryptIncrementsAsync(string folder, string destination, GitRemote remote, EncryptionKeyRing keys,
        CancellationToken cancellationToken)
    {
        var increments = new List<ExtractedIncrement>();
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!Directory.Exists(folder))
        {
            return increments;
        }

        foreach (var file in Directory.EnumerateFileSystemEntries(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var relative = Path.GetRelativePath(folder, file).Split(Path.DirectorySeparatorChar);
            var shown = $"{PublicIncrements.Folder}/{string.Join('/', relative)}";
            if (Directory.Exists(file) && relative.Length == 1)
            {
                continue;
            }

            if (relative.Length != 2 || !File.Exists(file) || !relative[1].EndsWith(PublicIncrements.Extension, StringComparison.Ordinal))
            {
                throw new InvalidDataException($"{shown} on {remote} is not an increment (increments/BASE/ID{PublicIncrements.Extension}); refused.");
            }

            var id = relative[1][..^PublicIncrements.Extension.Length];
            if (!seen.TryAdd(id, shown))
            {
                // The file name is the increment id its header and archive must name, and the id names the chain and sequence.
                throw new InvalidDataException($"Increment {id}: {shown} on {remote}: the same increment is also at {seen[id]}. Refused.");
            }

            var events = Path.Combine(destination, id + ".jsonl");
            var archive = Path.Combine(destination, id + ".tar");
            try
            {
                await PublicIncrements.DecryptAsync(file, archive, keys, id);
                IncrementManifest manifest;
                await using (var tar = File.OpenRead(archive))
                {
                    manifest = await IncrementArchive.ExtractAsync(tar, events, id, cancellationToken);
                }

                if (manifest.BaseSnapshotId != relative[0])
                {
                    throw new InvalidDataException($"it holds increment {id} of base snapshot {manifest.BaseSnapshotId}, which belongs at {PublicIncrements.PathOf(manifest.BaseSnapshotId, id)}.");
                }

                increments.Add(new ExtractedIncrement(manifest, events));
            }
            catch (Exception e) when (e is EncryptedFileException or InvalidDataException or EndOfStreamException)
            {
                File.Delete(events);
                throw new InvalidDataException($"Increment {id}: {shown} on {remote}: {e.Message} Refused.", e);
            }
            finally
            {
                File.Delete(archive);
            }
        }

        return increments;
    }
}

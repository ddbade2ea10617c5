using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;

namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>
/// The snapshot artifact: a POSIX (PAX) tar stream with <c>manifest.json</c> first, then every file the manifest lists,
/// in manifest order, gzip-compressed (<see cref="ArtifactCompression"/>; readers also take the plain tar of older
/// artifacts). Readers check each file's size and SHA-256 against the manifest while streaming and reject missing,
/// extra, reordered or altered files.
/// </summary>
public static class SnapshotArchive
{
    // A tar ends with two zero blocks, padded by some writers to a 10 KiB record; nothing legitimate comes near this.
    private const long MaxBytesAfterLastEntry = 1024 * 1024;

    /// <summary>Files of a snapshot in archive order, after the manifest.</summary>
    public static IEnumerable<(string File, long Bytes, string Sha256)> FilesOf(SnapshotManifest manifest)
    {
        foreach (var collection in manifest.Collections)
        {
            yield return (collection.Metadata.File, collection.Metadata.Bytes, collection.Metadata.Sha256);
            foreach (var part in collection.Parts)
            {
                yield return (part.File, part.Bytes, part.Sha256);
            }
        }
    }

    /// <summary>Streams a snapshot folder (as written by <see cref="SnapshotExporter"/>) into a tar archive.</summary>
    public static async Task WriteAsync(string snapshotDirectory, SnapshotManifest manifest, Stream output, CancellationToken cancellationToken)
    {
        var modified = manifest.FinishedAt;
        await using var tar = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
        var manifestBytes = manifest.ToJsonBytes();
        await WriteEntryAsync(tar, SnapshotManifest.FileName, new MemoryStream(manifestBytes), modified, cancellationToken);
        foreach (var (file, _, _) in FilesOf(manifest))
        {
            await using var data = new FileStream(Path.Combine(snapshotDirectory, SnapshotPaths.EnsureSafeRelative(file)),
                FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 20, FileOptions.SequentialScan);
            await WriteEntryAsync(tar, file, data, modified, cancellationToken);
        }
    }

    /// <summary>The artifact as stored: <see cref="WriteAsync"/>'s tar stream, gzip-compressed.</summary>
    public static async Task WriteCompressedAsync(string snapshotDirectory, SnapshotManifest manifest, Stream output, CancellationToken cancellationToken)
    {
        await using var gzip = new GZipStream(output, ArtifactCompression.Level, leaveOpen: true);
        await WriteAsync(snapshotDirectory, manifest, gzip, cancellationToken);
    }

    private static async Task WriteEntryAsync(TarWriter tar, string name, Stream data, DateTimeOffset modified, CancellationToken cancellationToken)
    {
        var entry = new PaxTarEntry(TarEntryType.RegularFile, name)
        {
            DataStream = data,
            ModificationTime = modified,
            Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
        };
        await tar.WriteEntryAsync(entry, cancellationToken);
    }

    /// <summary>
    /// Reads an archive (a tar stream, gzip-compressed or not), verifying every file against the manifest, and hands each verified file to
    /// <paramref name="onFile"/> as a stream to consume (it is checked while it is read; a mismatch throws after).
    /// Use <see cref="ExtractAsync"/> when nothing may be used before everything is verified. A damaged archive throws
    /// <see cref="InvalidDataException"/>.
    /// </summary>
    public static async Task<SnapshotManifest> ReadAsync(
        Stream archive, Func<SnapshotManifest, string, Stream, CancellationToken, Task>? onFile, CancellationToken cancellationToken)
    {
        try
        {
            var (bytes, isGzip, isEmpty) = await ArtifactCompression.PeekAsync(archive, cancellationToken);
            if (isEmpty)
            {
                throw new InvalidDataException("Snapshot archive is empty.");
            }

            if (!isGzip)
            {
                return await ReadVerifiedAsync(bytes, onFile, cancellationToken);
            }

            await using var tar = ArtifactCompression.CheckedDecompression(bytes);
            var manifest = await ReadVerifiedAsync(tar, onFile, cancellationToken);
            // The rest of the tar (its end blocks), then the gzip trailer is checked against the content. Bounded: a
            // hostile archive could follow its last entry with endless compressed zeros.
            var rest = new byte[64 * 1024];
            long after = 0;
            int read;
            while ((read = await tar.ReadAsync(rest, cancellationToken)) > 0)
            {
                if ((after += read) > MaxBytesAfterLastEntry)
                {
                    throw new InvalidDataException($"Snapshot {manifest.SnapshotId}: more than {MaxBytesAfterLastEntry} bytes follow the archive's last entry.");
                }
            }

            return manifest;
        }
        catch (EndOfStreamException e)
        {
            // The tar reader's own words ("Unable to read beyond the end of the stream") do not say what is wrong.
            throw new InvalidDataException("Snapshot archive is truncated: it ends inside an entry.", e);
        }
    }

    private static async Task<SnapshotManifest> ReadVerifiedAsync(
        Stream archive, Func<SnapshotManifest, string, Stream, CancellationToken, Task>? onFile, CancellationToken cancellationToken)
    {
        await using var tar = new TarReader(archive, leaveOpen: true);
        var first = await NextFileAsync(tar, cancellationToken)
            ?? throw new InvalidDataException("Snapshot archive is empty.");
        if (first.Name != SnapshotManifest.FileName || first.DataStream is null || first.Length > 64 * 1024 * 1024)
        {
            throw new InvalidDataException("Snapshot archive does not start with manifest.json.");
        }

        using var manifestBuffer = new MemoryStream();
        await first.DataStream.CopyToAsync(manifestBuffer, cancellationToken);
        var manifest = SnapshotManifest.Parse(manifestBuffer.ToArray());

        foreach (var (file, bytes, sha256) in FilesOf(manifest))
        {
            SnapshotPaths.EnsureSafeRelative(file);
            var entry = await NextFileAsync(tar, cancellationToken)
                ?? throw new InvalidDataException($"Snapshot {manifest.SnapshotId}: archive ends before {file}.");
            if (entry.Name != file)
            {
                throw new InvalidDataException($"Snapshot {manifest.SnapshotId}: expected {file}, found {entry.Name}.");
            }

            if (entry.Length != bytes)
            {
                throw new InvalidDataException($"Snapshot {manifest.SnapshotId}: {file} has {entry.Length} bytes, the manifest says {bytes}.");
            }

            await using var hashing = new HashingStream(entry.DataStream ?? Stream.Null, leaveOpen: true);
            if (onFile is not null)
            {
                await onFile(manifest, file, hashing, cancellationToken);
            }

            await hashing.CopyToAsync(Stream.Null, cancellationToken); // whatever the callback did not read
            var actual = hashing.GetSha256();
            if (actual != sha256)
            {
                throw new InvalidDataException($"Snapshot {manifest.SnapshotId}: SHA-256 mismatch in {file}.");
            }
        }

        if (await NextFileAsync(tar, cancellationToken) is { } extra)
        {
            throw new InvalidDataException($"Snapshot {manifest.SnapshotId}: unexpected file {extra.Name} after the last listed file.");
        }

        return manifest;
    }

    /// <summary>Extracts into <paramref name="destination"/> (which must not exist) with every file verified; on any error nothing is left.</summary>
    public static async Task<SnapshotManifest> ExtractAsync(Stream archive, string destination, CancellationToken cancellationToken)
    {
        if (Directory.Exists(destination) && Directory.EnumerateFileSystemEntries(destination).Any())
        {
            throw new IOException($"Extraction folder {destination} is not empty.");
        }

        try
        {
            var manifest = await ReadAsync(archive, async (_, file, data, ct) =>
            {
                var path = Path.Combine(destination, file);
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                await using var output = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
                await data.CopyToAsync(output, ct);
            }, cancellationToken);
            await File.WriteAllBytesAsync(Path.Combine(destination, SnapshotManifest.FileName), manifest.ToJsonBytes(), cancellationToken);
            return manifest;
        }
        catch
        {
            if (Directory.Exists(destination))
            {
                Directory.Delete(destination, recursive: true);
            }

            throw;
        }
    }

    /// <summary>Checks a snapshot folder's files against its manifest (sizes and SHA-256).</summary>
    public static async Task<SnapshotManifest> VerifyDirectoryAsync(string directory, CancellationToken cancellationToken)
    {
        var manifest = SnapshotManifest.Parse(await File.ReadAllBytesAsync(Path.Combine(directory, SnapshotManifest.FileName), cancellationToken));
        foreach (var (file, bytes, sha256) in FilesOf(manifest))
        {
            var path = Path.Combine(directory, SnapshotPaths.EnsureSafeRelative(file));
            if (!File.Exists(path) || new FileInfo(path).Length != bytes)
            {
                throw new InvalidDataException($"Snapshot {manifest.SnapshotId}: {file} is missing or has the wrong size.");
            }

            await using var stream = File.OpenRead(path);
            var actual = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken));
            if (actual != sha256)
            {
                throw new InvalidDataException($"Snapshot {manifest.SnapshotId}: SHA-256 mismatch in {file}.");
            }
        }

        return manifest;
    }

    /// <summary>The next regular file of a tar stream; <paramref name="what"/> names the archive in errors.</summary>
    internal static async Task<TarEntry?> NextFileAsync(TarReader tar, CancellationToken cancellationToken, string what = "snapshot archive")
    {
        while (await tar.GetNextEntryAsync(copyData: false, cancellationToken) is { } entry)
        {
            if (entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile)
            {
                return entry;
            }

            if (entry.EntryType is not (TarEntryType.Directory or TarEntryType.ExtendedAttributes or TarEntryType.GlobalExtendedAttributes))
            {
                throw new InvalidDataException($"Unexpected {entry.EntryType} entry {entry.Name} in {what}.");
            }
        }

        return null;
    }
}

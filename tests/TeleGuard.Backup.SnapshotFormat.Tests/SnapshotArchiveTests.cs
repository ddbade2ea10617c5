using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.SnapshotFormat.Tests;

public sealed class SnapshotArchiveTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private (string Directory, SnapshotManifest Manifest) MakeSnapshot()
    {
        var directory = Path.Combine(_temp.Path, "snapshot");
        var entries = new List<CollectionEntry>();
        foreach (var name in new[] { "accounts", "users" })
        {
            var folder = SnapshotPaths.CollectionDirectory(name);
            var metadataBytes = Encoding.UTF8.GetBytes($"{{\"name\":\"{name}\"}}\n");
            Directory.CreateDirectory(Path.Combine(directory, folder));
            File.WriteAllBytes(Path.Combine(directory, SnapshotPaths.MetadataFile(folder)), metadataBytes);
            using var writer = new JsonLinesPartWriter(directory, folder, 4096);
            for (var i = 0; i < 300; i++)
            {
                writer.WriteLine(Encoding.UTF8.GetBytes($"{{\"_id\":{{\"$numberInt\":\"{i}\"}},\"c\":\"{name}\"}}\n"));
            }

            var (parts, sha) = writer.Complete();
            entries.Add(new CollectionEntry(name, "collection", folder, writer.Documents, writer.Bytes, sha,
                new FileEntry(SnapshotPaths.MetadataFile(folder), metadataBytes.Length, Convert.ToHexStringLower(SHA256.HashData(metadataBytes))), parts));
        }

        var manifest = new SnapshotManifest
        {
            SnapshotId = "20261126T040000Z",
            StartedAt = DateTimeOffset.UnixEpoch,
            FinishedAt = DateTimeOffset.UnixEpoch.AddSeconds(1),
            Source = new SnapshotSource("db", ["localhost:27017"], null),
            Consistency = new SnapshotConsistency(SnapshotConsistency.None, null),
            Collections = entries,
        };
        return (directory, manifest);
    }

    private static async Task<byte[]> ArchiveAsync(string directory, SnapshotManifest manifest)
    {
        using var buffer = new MemoryStream();
        await SnapshotArchive.WriteAsync(directory, manifest, buffer, TestContext.Current.CancellationToken);
        return buffer.ToArray();
    }

    [Fact]
    public async Task An_archive_extracts_to_the_same_files_and_manifest()
    {
        var (directory, manifest) = MakeSnapshot();
        var archive = await ArchiveAsync(directory, manifest);
        var destination = Path.Combine(_temp.Path, "extracted");
        var read = await SnapshotArchive.ExtractAsync(new MemoryStream(archive), destination, TestContext.Current.CancellationToken);

        Assert.Equal(manifest.SnapshotId, read.SnapshotId);
        Assert.Equal(600, read.TotalDocuments);
        foreach (var (file, _, _) in SnapshotArchive.FilesOf(manifest))
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(directory, file)), File.ReadAllBytes(Path.Combine(destination, file)));
        }

        await SnapshotArchive.VerifyDirectoryAsync(destination, TestContext.Current.CancellationToken);
    }

    private static async Task<byte[]> CompressedArchiveAsync(string directory, SnapshotManifest manifest)
    {
        using var buffer = new MemoryStream();
        await SnapshotArchive.WriteCompressedAsync(directory, manifest, buffer, TestContext.Current.CancellationToken);
        return buffer.ToArray();
    }

    /// <summary>
    /// The snapshot service stores the tar gzip-compressed; readers take that and the plain tar of earlier versions, and
    /// the files they extract are the same.
    /// </summary>
    [Fact]
    public async Task A_compressed_artifact_is_gzip_of_the_tar_and_extracts_to_the_same_files_as_the_plain_tar_of_earlier_versions()
    {
        var (directory, manifest) = MakeSnapshot();
        var plain = await ArchiveAsync(directory, manifest);
        var compressed = await CompressedArchiveAsync(directory, manifest);
        Assert.Equal([0x1f, 0x8b], compressed[..2]);
        Assert.True(compressed.Length * 4 < plain.Length, $"{compressed.Length} bytes compressed, {plain.Length} plain");
        await using (var gunzip = new System.IO.Compression.GZipStream(new MemoryStream(compressed), System.IO.Compression.CompressionMode.Decompress))
        using (var tar = new MemoryStream())
        {
            await gunzip.CopyToAsync(tar, TestContext.Current.CancellationToken);
            Assert.Equal(plain, tar.ToArray()); // exactly the tar of the uncompressed format inside
        }

        foreach (var (name, archive) in new[] { ("plain", plain), ("compressed", compressed) })
        {
            var destination = Path.Combine(_temp.Path, name);
            var read = await SnapshotArchive.ExtractAsync(new MemoryStream(archive), destination, TestContext.Current.CancellationToken);
            Assert.Equal(manifest.ToJsonBytes(), read.ToJsonBytes());
            foreach (var (file, _, _) in SnapshotArchive.FilesOf(manifest))
            {
                Assert.Equal(File.ReadAllBytes(Path.Combine(directory, file)), File.ReadAllBytes(Path.Combine(destination, file)));
            }
        }
    }

    [Fact]
    public async Task A_compressed_artifact_cut_short_or_with_a_changed_byte_is_rejected_and_nothing_is_left_extracted()
    {
        var (directory, manifest) = MakeSnapshot();
        var compressed = await CompressedArchiveAsync(directory, manifest);
        var damaged = new List<(string What, byte[] Bytes)>
        {
            ("cut at half", compressed[..(compressed.Length / 2)]),
            ("cut inside the deflate data's end", compressed[..(compressed.Length - 12)]),
            ("gzip trailer cut off", compressed[..(compressed.Length - 8)]),
        };
        for (var at = 20; at < compressed.Length - 8; at += compressed.Length / 7)
        {
            var flipped = compressed.ToArray();
            flipped[at] ^= 0x10;
            damaged.Add(($"byte {at} changed", flipped));
        }

        var trailer = compressed.ToArray();
        trailer[^6] ^= 0x01; // the CRC-32 of the tar
        damaged.Add(("CRC-32 changed", trailer));
        damaged.Add(("bytes after the gzip stream", [.. compressed, .. "garbage"u8]));

        // A hostile archive: a valid snapshot followed, inside the same gzip stream, by megabytes of zeros (a tar reader
        // stops at the end blocks; the trailer check must not decompress without bound to reach the end).
        using (var bomb = new MemoryStream())
        {
            await using (var gzip = new System.IO.Compression.GZipStream(bomb, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true))
            {
                await gzip.WriteAsync(await ArchiveAsync(directory, manifest), TestContext.Current.CancellationToken);
                await gzip.WriteAsync(new byte[8 * 1024 * 1024], TestContext.Current.CancellationToken);
            }

            damaged.Add(("8 MiB of zeros after the last entry", bomb.ToArray()));
        }

        foreach (var (what, bytes) in damaged)
        {
            var destination = Path.Combine(_temp.Path, "extracted");
            var error = await Record.ExceptionAsync(() => SnapshotArchive.ExtractAsync(new MemoryStream(bytes), destination, TestContext.Current.CancellationToken));
            Assert.True(error is InvalidDataException, $"{what}: {error?.GetType().Name ?? "accepted"} {error?.Message}");
            Assert.False(Directory.Exists(destination), what);
        }
    }

    [Fact]
    public async Task A_flipped_byte_in_any_file_is_rejected_naming_the_file_and_nothing_is_left_extracted()
    {
        var (directory, manifest) = MakeSnapshot();
        var archive = await ArchiveAsync(directory, manifest);
        var needle = Encoding.UTF8.GetBytes("\"c\":\"users\"");
        var at = archive.AsSpan().LastIndexOf(needle);
        archive[at + 6] ^= 0x01;

        var destination = Path.Combine(_temp.Path, "extracted");
        var error = await Assert.ThrowsAsync<InvalidDataException>(() =>
            SnapshotArchive.ExtractAsync(new MemoryStream(archive), destination, TestContext.Current.CancellationToken));
        Assert.Contains("20261126T040000Z", error.Message);
        Assert.Contains("collections/users/part-", error.Message);
        Assert.False(Directory.Exists(destination));
    }

    [Fact]
    public async Task A_truncated_archive_is_rejected()
    {
        var (directory, manifest) = MakeSnapshot();
        var archive = await ArchiveAsync(directory, manifest);
        foreach (var (length, message) in new[]
                 {
                     (0, "Snapshot archive is empty."),
                     (100, "Snapshot archive is truncated"), // inside the manifest's header
                     (archive.Length / 2, "SHA-256 mismatch"), // inside a part: its bytes are short
                     (archive.Length - 2048, "SHA-256 mismatch"),
                 })
        {
            var error = await Assert.ThrowsAsync<InvalidDataException>(() =>
                SnapshotArchive.ReadAsync(new MemoryStream(archive, 0, length), null, TestContext.Current.CancellationToken));
            Assert.Contains(message, error.Message);
        }
    }

    [Fact]
    public async Task A_file_the_manifest_does_not_list_is_rejected()
    {
        var (directory, manifest) = MakeSnapshot();
        using var buffer = new MemoryStream();
        await SnapshotArchive.WriteAsync(directory, manifest, buffer, TestContext.Current.CancellationToken);
        var withExtra = new MemoryStream();
        // Re-write the archive with one more entry at the end.
        buffer.Position = 0;
        await using (var reader = new TarReader(buffer))
        await using (var writer = new TarWriter(withExtra, TarEntryFormat.Pax, leaveOpen: true))
        {
            while (await reader.GetNextEntryAsync(copyData: true, TestContext.Current.CancellationToken) is { } entry)
            {
                await writer.WriteEntryAsync(entry, TestContext.Current.CancellationToken);
            }

            await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, "collections/evil/part-0001.jsonl")
            {
                DataStream = new MemoryStream("{}\n"u8.ToArray()),
            }, TestContext.Current.CancellationToken);
        }

        withExtra.Position = 0;
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => SnapshotArchive.ReadAsync(withExtra, null, TestContext.Current.CancellationToken));
        Assert.Contains("unexpected file", error.Message);
    }
}

using System.IO.Compression;
using System.Security.Cryptography;
using MongoDB.Driver;
using TeleGuard.Backup.Crypto;
using TeleGuard.Backup.Destinations.Public;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Cli.Tests;

/// <summary>
/// Someone with push access to the public branch swaps or rolls back encrypted files (with the git CLI, against the git
/// server): <c>verify</c>, <c>restore</c> and the drill refuse a copy that is not the snapshot asked for, for files of
/// format version 2 (the header names the snapshot) and version 1 (the manifest inside does).
/// </summary>
public sealed class PublicCopyBindingTests : IDisposable
{
    private readonly TemporaryDirectory _work = new();

    public void Dispose() => _work.Dispose();

    [Fact]
    public async Task Snapshot_a_published_under_snapshot_b_is_refused_by_verify_restore_and_the_drill_naming_both()
    {
        var destinations = await GitDestinations.CreateAsync(_work.Path, Path.Combine(_work.Path, "tmp"));
        var a = await destinations.SnapshotAsync();
        var b = await destinations.SnapshotAsync();
        Assert.True(string.CompareOrdinal(a, b) < 0, $"{a} then {b}");
        var honest = await destinations.RunAsync("verify", "--from", "public", "--snapshot", b);
        Assert.True(honest.ExitCode == 0, honest.Output);

        var git = destinations.Clone("public-snapshots", Path.Combine(_work.Path, "mallory.git"));
        var fileOfA = git.ReadBlob($"snapshots/{a}.tgb");
        var fileOfB = git.ReadBlob($"snapshots/{b}.tgb");
        Replace(git, b, fileOfA); // A's file and its index entry under B's name: every SHA-256 in index.json matches

        var expected = $"holds snapshot {a}, not the requested snapshot {b}";
        foreach (var snapshot in new[] { b, "latest" })
        {
            var verify = await destinations.RunAsync("verify", "--from", "public", "--snapshot", snapshot);
            Assert.True(verify.ExitCode == 1, verify.Output);
            Assert.Contains(expected, verify.Output);
        }

        var targetUri = await TestServices.MongoUriAsync();
        var restore = await destinations.RunAsync("restore", "--from", "public", "--snapshot", b, "--to-uri", targetUri);
        Assert.True(restore.ExitCode == 1, restore.Output);
        Assert.Contains(expected, restore.Output);
        Assert.Single(restore.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries), line => line.Contains(expected));
        Assert.Empty(await (await Database(targetUri).ListCollectionNamesAsync()).ToListAsync());

        var drill = await destinations.RunAsync("drill");
        Assert.Equal(1, drill.ExitCode);
        Assert.Contains("public: FAILED", drill.Output);
        Assert.Contains(expected, drill.Output);

        // A version 1 file (written before the header named its snapshot) of snapshot A under B's name: the manifest inside tells.
        var keys = new EncryptionKeyRing(destinations.Key);
        Replace(git, b, VersionOneEncryption.Encrypt(destinations.Key, await PlaintextAsync(fileOfA, keys, a)));
        var versionOne = await destinations.RunAsync("verify", "--from", "public", "--snapshot", b);
        Assert.True(versionOne.ExitCode == 1, versionOne.Output);
        Assert.Contains($"Snapshot {b}: the public copy on", versionOne.Output);
        Assert.Contains($"holds snapshot {a} (its manifest says so)", versionOne.Output);

        // B's own content as a version 1 file still verifies and restores.
        Replace(git, b, VersionOneEncryption.Encrypt(destinations.Key, await PlaintextAsync(fileOfB, keys, b)));
        var oldFormat = await destinations.RunAsync("restore", "--from", "public", "--snapshot", b, "--to-uri", targetUri, "--collections", string.Join(',', RestoreSourceData.Collections));
        Assert.True(oldFormat.ExitCode == 0, oldFormat.Output);
        await RestoreSourceData.AssertSameAsync(destinations.Source, Database(targetUri));
    }

    private static IMongoDatabase Database(string uri) => new MongoClient(uri).GetDatabase(MongoUrl.Create(uri).DatabaseName);

    // The gzip-compressed archive inside an encrypted file.
    private static async Task<byte[]> PlaintextAsync(byte[] file, EncryptionKeyRing keys, string snapshotId)
    {
        using var plaintext = new MemoryStream();
        await StreamingEncryption.DecryptAsync(new MemoryStream(file), plaintext, keys, snapshotId, CancellationToken.None);
        using var check = new GZipStream(new MemoryStream(plaintext.ToArray()), CompressionMode.Decompress);
        await check.CopyToAsync(Stream.Null); // it is gzip
        return plaintext.ToArray();
    }

    // Pushes a commit where snapshots/<id>.tgb holds the given bytes and index.json lists them for id with matching hashes.
    private static void Replace(GitPlumbing git, string id, byte[] file)
    {
        var path = $"snapshots/{id}.tgb";
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(file));
        var index = PublicIndex.Parse(git.ReadBlob(PublicIndex.FileName));
        var entry = index.Snapshots.Single(s => s.Id == id);
        index.Snapshots[index.Snapshots.IndexOf(entry)] = entry with { Size = file.Length, Sha256 = sha256, Files = [new PublicFile(path, file.Length, sha256)] };

        var snapshots = git.ReadTree("public-snapshots:snapshots").With(RawGitTree.File, $"{id}.tgb", git.WriteBlob(file));
        var root = git.ReadTree()
            .With(RawGitTree.Folder, "snapshots", git.WriteTree(snapshots))
            .With(RawGitTree.File, PublicIndex.FileName, git.WriteBlob(index.ToJsonBytes()));
        git.PushCommit(git.WriteTree(root), $"Encrypted snapshot {id}\n\nSnapshot-Id: {id}");
    }
}

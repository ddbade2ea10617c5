using System.Security.Cryptography;
using System.Text;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.SnapshotFormat.Tests;

public sealed class SnapshotFilesTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Parts_never_exceed_the_part_size_never_split_a_line_and_hash_to_the_whole()
    {
        var lines = Enumerable.Range(0, 5000).Select(i => Encoding.UTF8.GetBytes($"{{\"n\":{i},\"pad\":\"{new string('p', i % 300)}\"}}\n")).ToList();
        using var writer = new JsonLinesPartWriter(_temp.Path, "collections/c", maxPartBytes: 64 * 1024);
        foreach (var line in lines)
        {
            writer.WriteLine(line);
        }

        var (parts, sha256) = writer.Complete();
        var whole = lines.SelectMany(l => l).ToArray();
        Assert.True(parts.Count > 5);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(whole)), sha256);
        var concatenated = parts.SelectMany(p => File.ReadAllBytes(Path.Combine(_temp.Path, p.File))).ToArray();
        Assert.Equal(whole, concatenated);
        Assert.All(parts, p =>
        {
            var bytes = File.ReadAllBytes(Path.Combine(_temp.Path, p.File));
            Assert.True(bytes.Length <= 64 * 1024);
            Assert.Equal((byte)'\n', bytes[^1]);
            Assert.Equal(p.Bytes, bytes.Length);
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), p.Sha256);
        });
        Assert.Equal(5000, parts.Sum(p => p.Documents));
        Assert.Equal("collections/c/part-0001.jsonl", parts[0].File);
    }

    [Fact]
    public void A_line_larger_than_the_part_size_gets_a_part_of_its_own()
    {
        using var writer = new JsonLinesPartWriter(_temp.Path, "collections/c", maxPartBytes: 2048);
        writer.WriteLine(new byte[10]);
        writer.WriteLine(new byte[5000]);
        writer.WriteLine(new byte[10]);
        var (parts, _) = writer.Complete();
        Assert.Equal([10L, 5000L, 10L], parts.Select(p => p.Bytes));
    }

    [Theory]
    [InlineData("users", "collections/users")]
    [InlineData("a.b-c_d", "collections/a.b-c_d")]
    [InlineData(".hidden", "collections/%2Ehidden")]
    [InlineData("..", "collections/%2E.")]
    [InlineData("a/b", "collections/a%2Fb")]
    [InlineData("ü ", "collections/%C3%BC%20")]
    public void Collection_names_become_safe_stable_paths(string name, string expected)
    {
        Assert.Equal(expected, SnapshotPaths.CollectionDirectory(name));
        SnapshotPaths.EnsureSafeRelative(expected);
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("/etc/passwd")]
    [InlineData("a//b")]
    [InlineData("a/./b")]
    [InlineData("a\\b")]
    public void Paths_that_could_escape_are_rejected(string path) =>
        Assert.Throws<InvalidDataException>(() => SnapshotPaths.EnsureSafeRelative(path));

    [Fact]
    public void Snapshot_ids_are_utc_second_timestamps()
    {
        var time = new DateTimeOffset(2026, 11, 26, 7, 0, 0, TimeSpan.FromHours(3));
        Assert.Equal("20261126T040000Z", SnapshotIds.FromTime(time));
        Assert.Equal(time, SnapshotIds.ToTime("20261126T040000Z"));
        Assert.False(SnapshotIds.IsValid("2026-11-26T04:00:00Z"));
        Assert.False(SnapshotIds.IsValid("../../etc"));
    }
}

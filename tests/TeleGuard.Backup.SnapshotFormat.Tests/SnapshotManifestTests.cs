using System.Text;

namespace TeleGuard.Backup.SnapshotFormat.Tests;

/// <summary>A manifest read back from a destination is untrusted: it may only name what an export writes.</summary>
public sealed class SnapshotManifestTests
{
    private static string Manifest(params (string Name, string Type)[] collections) => $$"""
        {"format":"teleguard-snapshot","formatVersion":2,"snapshotId":"20261130T120000Z","startedAt":"2026-11-30T12:00:00Z",
         "finishedAt":"2026-11-30T12:00:01Z","source":{"database":"d","hosts":[]},"consistency":{"mode":"none"},
         "collections":[{{string.Join(",", collections.Select(c => $$"""
            {"name":{{System.Text.Json.JsonSerializer.Serialize(c.Name)}},"type":"{{c.Type}}","directory":"collections/x","documents":0,"bytes":0,"sha256":"",
             "metadata":{"file":"collections/x/metadata.json","bytes":0,"sha256":""},"parts":[]}
            """))}}]}
        """;

    [Theory]
    [InlineData("teleguard.restore.0123456789ab.swap", "collection")]
    [InlineData("teleguard.restore.0123456789ab.old.1", "collection")]
    [InlineData("teleguard.restore.lease", "collection")]
    [InlineData("system.users", "collection")]
    [InlineData("", "collection")]
    [InlineData("a$b", "collection")]
    [InlineData("a\0b", "collection")]
    [InlineData("users", "kind-of-its-own")]
    public void A_name_or_type_no_export_writes_is_refused(string name, string type)
    {
        var error = Assert.Throws<InvalidDataException>(() => SnapshotManifest.Parse(Encoding.UTF8.GetBytes(Manifest((name, type)))));
        Assert.Contains("no export writes", error.Message);
    }

    [Fact]
    public void A_collection_listed_twice_is_refused()
    {
        var error = Assert.Throws<InvalidDataException>(() => SnapshotManifest.Parse(Encoding.UTF8.GetBytes(Manifest(("users", "collection"), ("users", "collection")))));
        Assert.Contains("twice", error.Message);
    }

    [Fact]
    public void Ordinary_names_including_look_alikes_of_work_collections_are_accepted()
    {
        var manifest = SnapshotManifest.Parse(Encoding.UTF8.GetBytes(Manifest(("users", "collection"), ("teleguard.restore.mine", "collection"), ("v", "view"))));
        Assert.Equal(3, manifest.Collections.Count);
    }

    [Fact]
    public void Json_that_is_not_a_manifest_is_refused_naming_the_file()
    {
        var error = Assert.Throws<InvalidDataException>(() => SnapshotManifest.Parse("{\"format\":"u8));
        Assert.Contains("manifest.json", error.Message);
    }
}

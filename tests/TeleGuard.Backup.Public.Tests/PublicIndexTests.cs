using System.Text;
using TeleGuard.Backup.Destinations.Public;

namespace TeleGuard.Backup.Public.Tests;

/// <summary>index.json is read from a branch anyone with push access can write: what it lists is checked before use.</summary>
public sealed class PublicIndexTests
{
    private const string Sha = "6b86b273ff34ce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b8";

    private static string Index(string id = "20261126T040000Z", string file = "snapshots/20261126T040000Z.tgb", string? second = null) => $$"""
        {"format":"teleguard-public-snapshots","version":1,"snapshots":[
          {"id":"{{id}}","size":1,"sha256":"{{Sha}}","keyId":"424b6458247fd65a","files":[{"file":{{System.Text.Json.JsonSerializer.Serialize(file)}},"size":1,"sha256":"{{Sha}}"}]}
          {{second}}]}
        """;

    [Fact]
    public void An_index_as_the_sink_writes_it_parses()
    {
        var index = PublicIndex.Parse(Encoding.UTF8.GetBytes(Index()));
        Assert.Equal("snapshots/20261126T040000Z.tgb", Assert.Single(Assert.Single(index.Snapshots).Files).File);
        Assert.Equal(index.ToJsonBytes(), PublicIndex.Parse(index.ToJsonBytes()).ToJsonBytes());
    }

    [Theory]
    [InlineData("../x.tgb")]
    [InlineData("snapshots/../../x.tgb")]
    [InlineData("/etc/passwd")]
    [InlineData("snapshots\\x.tgb")]
    [InlineData("snapshots/x\0.tgb")]
    [InlineData("snapshots//x.tgb")]
    [InlineData("./x.tgb")]
    [InlineData("")]
    public void A_listed_path_that_could_leave_the_folder_is_refused_and_named(string file)
    {
        var error = Assert.Throws<InvalidDataException>(() => PublicIndex.Parse(Encoding.UTF8.GetBytes(Index(file: file))));
        Assert.Contains($"index.json lists an unsafe path {System.Text.Json.JsonSerializer.Serialize(file)} for snapshot 20261126T040000Z", error.Message);
        Assert.DoesNotContain('\n', error.Message);
        Assert.DoesNotContain('\0', error.Message);
    }

    [Theory]
    [InlineData("latest")]
    [InlineData("../20261126T040000Z")]
    [InlineData("20261126T040000Z\n")]
    public void An_entry_whose_id_is_not_a_snapshot_id_is_refused(string id)
    {
        var error = Assert.Throws<InvalidDataException>(() => PublicIndex.Parse(Encoding.UTF8.GetBytes(Index(id: System.Text.Json.JsonEncodedText.Encode(id).ToString()))));
        Assert.Contains("invalid snapshot id", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void A_snapshot_listed_twice_malformed_json_and_an_oversized_index_are_refused()
    {
        var twice = Index(second: ",{\"id\":\"20261126T040000Z\",\"size\":1,\"sha256\":\"" + Sha + "\",\"keyId\":\"424b6458247fd65a\",\"files\":[]}");
        Assert.Contains("twice", Assert.Throws<InvalidDataException>(() => PublicIndex.Parse(Encoding.UTF8.GetBytes(twice))).Message);
        Assert.Contains("not valid JSON", Assert.Throws<InvalidDataException>(() => PublicIndex.Parse("{\"snapshots\":[{"u8)).Message);
        Assert.Contains("over the", Assert.Throws<InvalidDataException>(() => PublicIndex.Parse(new byte[PublicIndex.MaxBytes + 1])).Message);
        Assert.Contains("lacks", Assert.Throws<InvalidDataException>(() => PublicIndex.Parse(Encoding.UTF8.GetBytes(Index().Replace(Sha, "x")))).Message);
    }
}

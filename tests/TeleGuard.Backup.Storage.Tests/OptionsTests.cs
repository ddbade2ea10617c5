using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Storage.Tests;

public sealed class OptionsTests
{
    private static CheckedOptions<MongoOptions> Mongo(Dictionary<string, string?> values) => OptionsCheck.Bind<MongoOptions, MongoOptionsValidator>(values);

    private static CheckedOptions<RedisOptions> Redis(Dictionary<string, string?> values) => OptionsCheck.Bind<RedisOptions, RedisOptionsValidator>(values);

    private static CheckedOptions<ArtifactStoreOptions> Artifacts(Dictionary<string, string?> values) =>
        OptionsCheck.Bind<ArtifactStoreOptions, ArtifactStoreOptionsValidator>(values);

    [Theory]
    [InlineData(null, "MONGODB_URI is required")]
    [InlineData("", "MONGODB_URI is required")]
    [InlineData("http://user:s3cretValue@host/db", "MONGODB_URI is not a valid")]
    [InlineData("mongodb://user:s3cretValue@host:27017/", "MONGODB_URI must name the database")]
    public void A_bad_mongodb_uri_is_named_and_never_echoed(string? value, string expected)
    {
        var error = Assert.Single(Mongo(new() { ["MONGODB_URI"] = value }).Errors);
        Assert.StartsWith(expected, error);
        Assert.DoesNotContain("s3cretValue", error);
    }

    [Fact]
    public void The_database_comes_from_the_uri_path()
    {
        var options = Mongo(new() { ["MONGODB_URI"] = "mongodb://h1:1,h2:2/teleguard?replicaSet=rs0" }).Valid;
        Assert.Equal("teleguard", options.DatabaseName);
    }

    [Theory]
    [InlineData("redis://:p4ss@cache:6380/2", "cache", 6380, "p4ss", 2)]
    [InlineData("redis://localhost:6379", "localhost", 6379, null, 0)]
    [InlineData(null, "localhost", 6379, null, 0)]
    public void Redis_urls_parse(string? url, string host, int port, string? password, int database)
    {
        var options = Redis(new() { ["REDIS_URL"] = url }).Valid;
        Assert.Equal((host, port, password, database), (options.Host, options.Port, options.Password, options.Database));
    }

    [Theory]
    [InlineData("localhost:6379")]
    [InlineData("http://cache:6379")]
    [InlineData("redis://:p4ss@cache:6379/x")]
    public void Bad_redis_urls_are_named_and_never_echoed(string url)
    {
        var error = Assert.Single(Redis(new() { ["REDIS_URL"] = url }).Errors);
        Assert.StartsWith("REDIS_URL", error);
        Assert.DoesNotContain("p4ss", error);
    }

    [Fact]
    public void A_directory_store_needs_an_absolute_directory()
    {
        Assert.StartsWith("ARTIFACT_DIR", Assert.Single(Artifacts(new() { ["ARTIFACT_STORE"] = "directory" }).Errors));
        Assert.StartsWith("ARTIFACT_STORE", Assert.Single(Artifacts(new() { ["ARTIFACT_STORE"] = "s3" }).Errors));
        Assert.Empty(Artifacts(new() { ["ARTIFACT_STORE"] = "directory", ["ARTIFACT_DIR"] = "/data" }).Errors);
    }

    [Fact]
    public void Artifacts_go_to_their_own_database_named_after_the_one_backed_up_and_never_to_that_one()
    {
        const string uri = "mongodb://user:s3cretValue@host:27017/teleguard";
        var defaults = Artifacts(new() { ["MONGODB_URI"] = uri }).Valid;
        Assert.Equal("gridfs", defaults.Kind);
        Assert.Equal("teleguard_backup", defaults.Database);
        Assert.Equal("elsewhere", Artifacts(new() { ["MONGODB_URI"] = uri, ["ARTIFACT_DATABASE"] = "elsewhere" }).Valid.Database);

        var same = Assert.Single(Artifacts(new() { ["MONGODB_URI"] = uri, ["ARTIFACT_DATABASE"] = "teleguard" }).Errors);
        Assert.StartsWith("ARTIFACT_DATABASE must not be the database being backed up", same);
        var invalid = Assert.Single(Artifacts(new() { ["MONGODB_URI"] = uri, ["ARTIFACT_DATABASE"] = "a.b" }).Errors);
        Assert.StartsWith("ARTIFACT_DATABASE is not a valid", invalid);
        Assert.DoesNotContain("s3cretValue", same + invalid);
    }
}

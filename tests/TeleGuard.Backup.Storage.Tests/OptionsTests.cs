using Microsoft.Extensions.Configuration;
using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Storage.Tests;

public sealed class OptionsTests
{
    private static T Load<T>(Dictionary<string, string?> values) where T : EnvironmentOptions, new()
    {
        var options = new T();
        options.Load(new ConfigurationBuilder().AddInMemoryCollection(values).Build());
        return options;
    }

    [Theory]
    [InlineData(null, "MONGODB_URI is required")]
    [InlineData("", "MONGODB_URI is required")]
    [InlineData("http://user:s3cretValue@host/db", "MONGODB_URI is not a valid")]
    [InlineData("mongodb://user:s3cretValue@host:27017/", "MONGODB_URI must name the database")]
    public void A_bad_mongodb_uri_is_named_and_never_echoed(string? value, string expected)
    {
        var options = Load<MongoOptions>(new() { ["MONGODB_URI"] = value });
        var error = Assert.Single(options.ConfigurationErrors);
        Assert.StartsWith(expected, error);
        Assert.DoesNotContain("s3cretValue", error);
    }

    [Fact]
    public void The_database_comes_from_the_uri_path()
    {
        var options = Load<MongoOptions>(new() { ["MONGODB_URI"] = "mongodb://h1:1,h2:2/teleguard?replicaSet=rs0" });
        Assert.Empty(options.ConfigurationErrors);
        Assert.Equal("teleguard", options.DatabaseName);
    }

    [Theory]
    [InlineData("redis://:p4ss@cache:6380/2", "cache", 6380, "p4ss", 2)]
    [InlineData("redis://localhost:6379", "localhost", 6379, null, 0)]
    [InlineData(null, "localhost", 6379, null, 0)]
    public void Redis_urls_parse(string? url, string host, int port, string? password, int database)
    {
        var options = Load<RedisOptions>(new() { ["REDIS_URL"] = url });
        Assert.Empty(options.ConfigurationErrors);
        Assert.Equal((host, port, password, database), (options.Host, options.Port, options.Password, options.Database));
    }

    [Theory]
    [InlineData("localhost:6379")]
    [InlineData("http://cache:6379")]
    [InlineData("redis://:p4ss@cache:6379/x")]
    public void Bad_redis_urls_are_named_and_never_echoed(string url)
    {
        var error = Assert.Single(Load<RedisOptions>(new() { ["REDIS_URL"] = url }).ConfigurationErrors);
        Assert.StartsWith("REDIS_URL", error);
        Assert.DoesNotContain("p4ss", error);
    }

    [Fact]
    public void A_directory_store_needs_an_absolute_directory()
    {
        Assert.StartsWith("ARTIFACT_DIR", Assert.Single(Load<ArtifactStoreOptions>(new() { ["ARTIFACT_STORE"] = "directory" }).ConfigurationErrors));
        Assert.StartsWith("ARTIFACT_STORE", Assert.Single(Load<ArtifactStoreOptions>(new() { ["ARTIFACT_STORE"] = "s3" }).ConfigurationErrors));
        Assert.Empty(Load<ArtifactStoreOptions>(new() { ["ARTIFACT_STORE"] = "directory", ["ARTIFACT_DIR"] = "/data" }).ConfigurationErrors);
    }

    [Fact]
    public void Artifacts_go_to_their_own_database_named_after_the_one_backed_up_and_never_to_that_one()
    {
        const string uri = "mongodb://user:s3cretValue@host:27017/teleguard";
        var defaults = Load<ArtifactStoreOptions>(new() { ["MONGODB_URI"] = uri });
        Assert.Empty(defaults.ConfigurationErrors);
        Assert.Equal("gridfs", defaults.Kind);
        Assert.Equal("teleguard_backup", defaults.Database);
        Assert.Equal("elsewhere", Load<ArtifactStoreOptions>(new() { ["MONGODB_URI"] = uri, ["ARTIFACT_DATABASE"] = "elsewhere" }).Database);

        var same = Assert.Single(Load<ArtifactStoreOptions>(new() { ["MONGODB_URI"] = uri, ["ARTIFACT_DATABASE"] = "teleguard" }).ConfigurationErrors);
        Assert.StartsWith("ARTIFACT_DATABASE must not be the database being backed up", same);
        var invalid = Assert.Single(Load<ArtifactStoreOptions>(new() { ["MONGODB_URI"] = uri, ["ARTIFACT_DATABASE"] = "a.b" }).ConfigurationErrors);
        Assert.StartsWith("ARTIFACT_DATABASE is not a valid", invalid);
        Assert.DoesNotContain("s3cretValue", same + invalid);
    }
}

using System.Security.Cryptography;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using MongoDB.Bson;
using MongoDB.Driver;
using MongoDB.Driver.GridFS;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Storage.Tests;

public sealed class ArtifactStoreTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private async Task<(IArtifactStore Store, IMongoDatabase? Database)> CreateAsync(string kind)
    {
        if (kind == "directory")
        {
            return (new DirectoryArtifactStore(_temp.Path), null);
        }

        var uri = await TestServices.MongoUriAsync();
        var database = new MongoClient(uri).GetDatabase(MongoUrl.Create(uri).DatabaseName);
        return (new GridFsArtifactStore(database, "artifacts"), database);
    }

    [Theory]
    [InlineData("gridfs")]
    [InlineData("directory")]
    public async Task Saved_bytes_read_back_identical_with_the_recorded_size_and_sha256(string kind)
    {
        var (store, _) = await CreateAsync(kind);
        var content = RandomNumberGenerator.GetBytes(3 * 1024 * 1024 + 17);
        var stored = await store.SaveAsync("20261126T040000Z", async (s, ct) =>
        {
            for (var offset = 0; offset < content.Length; offset += 100_000)
            {
                await s.WriteAsync(content.AsMemory(offset, Math.Min(100_000, content.Length - offset)), ct);
            }
        }, CancellationToken.None);

        Assert.Equal(content.Length, stored.Size);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(content)), stored.Sha256);
        await using var read = await store.OpenReadAsync(stored.Location, CancellationToken.None);
        using var copy = new MemoryStream();
        await read.CopyToAsync(copy);
        Assert.Equal(content, copy.ToArray());

        await store.DeleteAsync(stored.Location, CancellationToken.None);
        await Assert.ThrowsAsync<ArtifactNotFoundException>(() => store.OpenReadAsync(stored.Location, CancellationToken.None));
        await store.DeleteAsync(stored.Location, CancellationToken.None); // idempotent
    }

    [Theory]
    [InlineData("gridfs")]
    [InlineData("directory")]
    public async Task A_save_that_fails_midway_leaves_no_artifact_behind(string kind)
    {
        var (store, database) = await CreateAsync(kind);
        await Assert.ThrowsAsync<IOException>(() => store.SaveAsync("20261126T040000Z", async (s, ct) =>
        {
            await s.WriteAsync(new byte[2 * 1024 * 1024], ct);
            throw new IOException("export crashed");
        }, CancellationToken.None));

        if (database is not null)
        {
            Assert.Equal(0, await database.GetCollection<BsonDocument>("artifacts.files").CountDocumentsAsync(FilterDefinition<BsonDocument>.Empty));
            Assert.Equal(0, await database.GetCollection<BsonDocument>("artifacts.chunks").CountDocumentsAsync(FilterDefinition<BsonDocument>.Empty));
        }
        else
        {
            Assert.Empty(Directory.EnumerateFileSystemEntries(_temp.Path));
        }
    }

    [Theory]
    [InlineData("gridfs")]
    [InlineData("directory")]
    public async Task Each_save_of_a_snapshot_is_an_artifact_of_its_own_that_no_other_save_touches(string kind)
    {
        var (store, _) = await CreateAsync(kind);
        var first = await store.SaveAsync("20261126T040000Z", (s, ct) => s.WriteAsync(new byte[] { 1 }, ct).AsTask(), CancellationToken.None);
        var second = await store.SaveAsync("20261126T040000Z", (s, ct) => s.WriteAsync(new byte[] { 2 }, ct).AsTask(), CancellationToken.None);
        await store.SaveAsync("20261126T050000Z", (s, ct) => s.WriteAsync(new byte[] { 3 }, ct).AsTask(), CancellationToken.None);

        Assert.NotEqual(first.Location, second.Location);
        Assert.Equal(new[] { first.Location, second.Location }.Order(), (await store.ListAsync("20261126T040000Z", CancellationToken.None)).Order());
        await using (var read = await store.OpenReadAsync(first.Location, CancellationToken.None))
        {
            Assert.Equal(1, read.ReadByte()); // the first attempt's artifact is intact
        }

        await store.DeleteAsync(second.Location, CancellationToken.None);
        Assert.Equal([first.Location], await store.ListAsync("20261126T040000Z", CancellationToken.None));
    }

    // The store every service gets from AddBackupStorage, configured as given.
    private ServiceProvider ConfiguredStore(string uri, string kind) =>
        new ServiceCollection()
            .AddLogging()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder()
                .AddInMemoryCollection(new Dictionary<string, string?> { ["MONGODB_URI"] = uri, ["ARTIFACT_STORE"] = kind, ["ARTIFACT_DIR"] = _temp.Path })
                .Build())
            .AddBackupStorage()
            .BuildServiceProvider();

    private static async Task<byte[]> ReadAllAsync(IArtifactStore store, string location)
    {
        await using var read = await store.OpenReadAsync(location, CancellationToken.None);
        using var copy = new MemoryStream();
        await read.CopyToAsync(copy);
        return copy.ToArray();
    }

    [Theory]
    [InlineData("gridfs")]
    [InlineData("directory")]
    public async Task Artifacts_that_earlier_versions_kept_in_the_backed_up_database_stay_readable_and_deletable(string kind)
    {
        var uri = await TestServices.MongoUriAsync();
        var backedUp = new MongoClient(uri).GetDatabase(MongoUrl.Create(uri).DatabaseName);
        var legacyBucket = new GridFSBucket(backedUp, new GridFSBucketOptions { BucketName = "teleguard_artifacts" });
        var legacyId = await legacyBucket.UploadFromBytesAsync("snapshot-20261126T040000Z.tar", [1, 2, 3]);
        var legacyLocation = $"gridfs:teleguard_artifacts/{legacyId}"; // as an earlier version recorded it

        await using var provider = ConfiguredStore(uri, kind);
        var store = provider.GetRequiredService<IArtifactStore>();
        Assert.Equal([1, 2, 3], await ReadAllAsync(store, legacyLocation));

        var saved = await store.SaveAsync("20261126T050000Z", (s, ct) => s.WriteAsync(new byte[] { 4 }, ct).AsTask(), CancellationToken.None);
        Assert.StartsWith(kind == "gridfs" ? $"gridfs:{backedUp.DatabaseNamespace.DatabaseName}_backup/teleguard_artifacts/" : "dir:", saved.Location);
        Assert.Equal([4], await ReadAllAsync(store, saved.Location));

        await store.DeleteAsync(legacyLocation, CancellationToken.None); // retention, once the old snapshot expires
        Assert.Equal(0, await backedUp.GetCollection<BsonDocument>("teleguard_artifacts.files").CountDocumentsAsync(FilterDefinition<BsonDocument>.Empty));
        await Assert.ThrowsAsync<ArtifactNotFoundException>(() => store.OpenReadAsync(legacyLocation, CancellationToken.None));
    }
}

using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using TeleGuard.Backup.Crypto;
using TeleGuard.Backup.Destinations.Public;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Public.Tests;

/// <summary>The public sink alone (in-memory bus) against the git smart-HTTP server, fed synthetic snapshots.</summary>
public sealed class PublicBranchOrderTests : IAsyncDisposable
{
    private readonly TemporaryDirectory _work = new();
    private readonly GitServer _git = GitServer.FromEnvironment();
    private IHost? _host;

    [Fact]
    public async Task A_late_snapshot_with_older_data_joins_the_index_without_rewriting_and_the_newest_data_stays_latest()
    {
        var uri = await TestServices.MongoUriAsync();
        var (url, path) = _git.CreateRepository();
        var builder = TestHosts.CreateBuilder(new Dictionary<string, string?>
        {
            ["MONGODB_URI"] = uri,
            ["REDIS_URL"] = await TestServices.RedisUrlAsync(),
            ["REDIS_KEY_PREFIX"] = TestServices.UniqueName("test"),
            ["SNAPSHOT_DIR"] = _work.Path,
            ["GITHUB_REPO"] = url.ToString(),
            ["GITHUB_PUBLIC_REPO"] = url.ToString(),
            ["GITHUB_TOKEN"] = _git.Token,
            ["ENCRYPTION_KEY"] = Convert.ToBase64String(EncryptionKeyRing.GenerateKey()),
            ["RETRY_LIMIT"] = "1",
            ["RETRY_MIN_SECONDS"] = "0",
        });
        builder.AddBackupDefaults();
        builder.AddPublicSinkService();
        builder.AddBackupBus();
        _host = builder.Build();
        await _host.StartAsync();
        var meta = _host.Services.GetRequiredService<BackupsMetaStore>();

        var now = DateTimeOffset.UtcNow;
        foreach (var (id, dataTime) in new[] { ("20261126T030000Z", now), ("20261126T020000Z", now.AddHours(-1)) })
        {
            await SyntheticSnapshots.AnnounceAsync(_host.Services, _work.Path, id, 20_000, dataTime: dataTime);
            var record = await TestHosts.EventuallyAsync(async () =>
                (await meta.GetAsync(id, CancellationToken.None))?.Sinks.GetValueOrDefault(BackupSinks.Public) is { Status: SinkStatus.Succeeded } copy ? copy : null,
                TimeSpan.FromSeconds(60), $"the public copy of {id}");
            Assert.Equal(record.LocationAs<PublicLocation>()!.Commit, GitServer.Run(path, "rev-parse", "public-snapshots").Trim());
        }

        var index = PublicIndex.Parse(GitServer.ReadBlob(path, "public-snapshots", PublicIndex.FileName));
        Assert.Equal(["20261126T020000Z", "20261126T030000Z"], index.Snapshots.Select(s => s.Id));
        Assert.Equal("20261126T030000Z", index.Newest()!.Id);
        Assert.Equal(now.AddHours(-1).ToUnixTimeMilliseconds(), index.Snapshots[0].DataTime!.Value.ToUnixTimeMilliseconds());
        var files = GitServer.Run(path, "ls-tree", "-r", "--name-only", "public-snapshots", "snapshots/").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["snapshots/20261126T020000Z.tgb", "snapshots/20261126T030000Z.tgb"], files);
        Assert.Equal("2", GitServer.Run(path, "rev-list", "--count", "public-snapshots").Trim()); // appended, nothing replayed
    }

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.StopAsync();
            _host.Dispose();
        }

        _work.Dispose();
    }
}

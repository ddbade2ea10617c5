using System.Security.Cryptography;
using System.Text;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.Cli;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Crypto;
using TeleGuard.Backup.Destinations.Public;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Public.Tests;

/// <summary>Every service in one host on RabbitMQ, with the public branch on the git smart-HTTP server.</summary>
public sealed class PublicSinkTests : IAsyncDisposable
{
    private readonly TemporaryDirectory _work = new();
    private readonly GitServer _git = GitServer.FromEnvironment();
    private readonly CapturedLogs _logs = new();
    private readonly byte[] _key = EncryptionKeyRing.GenerateKey();
    private IHost? _host;
    private RabbitMqVirtualHost? _vhost;

    /// <summary>SHA-256 of the tar stream inside a snapshot's stored (gzip-compressed) artifact.</summary>
    private static async Task<string> TarSha256Async(IArtifactStore store, BackupRecord record)
    {
        await using var artifact = await store.OpenReadAsync(record.Artifact!.Location, CancellationToken.None);
        await using var tar = new System.IO.Compression.GZipStream(artifact, System.IO.Compression.CompressionMode.Decompress);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(tar));
    }

    [Fact]
    public async Task Three_snapshots_and_a_cleanup_leave_only_opaque_files_the_index_and_the_readme_and_each_decrypts_to_its_artifact()
    {
        var uri = await TestServices.MongoReplicaSetUriAsync();
        var database = new MongoClient(uri).GetDatabase(MongoUrl.Create(uri).DatabaseName);
        await database.GetCollection<BsonDocument>("secret_customers").InsertManyAsync(
            Enumerable.Range(0, 50).Select(i => new BsonDocument { { "_id", i }, { "email", $"person{i}@example.org" } }));
        _vhost = await TestServices.RabbitMqVirtualHostAsync();
        var (url, path) = _git.CreateRepository();
        var settings = new Dictionary<string, string?>
        {
            ["MONGODB_URI"] = uri,
            ["RABBITMQ_URI"] = _vhost.AmqpUri,
            ["REDIS_URL"] = await TestServices.RedisUrlAsync(),
            ["REDIS_KEY_PREFIX"] = TestServices.UniqueName("test"),
            ["SNAPSHOT_DIR"] = _work.Path,
            ["GITHUB_REPO"] = url.ToString(), // the private copy and, by default, the public branch live here
            ["GITHUB_PUBLIC_REPO"] = url.ToString(), // the public branch beside the private copy, set explicitly
            ["GITHUB_TOKEN"] = _git.Token,
            ["ENCRYPTION_KEY"] = Convert.ToBase64String(_key),
            ["RETENTION_HOURS"] = "1",
            ["RETRY_LIMIT"] = "1",
            ["RETRY_MIN_SECONDS"] = "0",
            ["LOG_LEVEL"] = "Trace",
            ["BACKUP_SCHEDULE"] = "0 0 1 1 *",
            ["SCHEDULER_CATCH_UP"] = "false",
        };
        var builder = TestHosts.CreateBuilder(settings);
        builder.AddBackupDefaults();
        builder.Logging.AddProvider(_logs);
        builder.AddAllBackupServices(includeScheduler: false);
        builder.AddBackupBus();
        _host = builder.Build();
        await _host.StartAsync();
        var bus = _host.Services.GetRequiredService<IBus>();
        var meta = _host.Services.GetRequiredService<BackupsMetaStore>();

        var records = new List<BackupRecord>();
        foreach (var id in new[] { "20261126T010000Z", "20261126T020000Z", "20261126T030000Z" })
        {
            await bus.Publish(new SnapshotRequested(id, DateTimeOffset.UtcNow, "schedule"));
            var record = await TestHosts.EventuallyAsync(async () =>
                await meta.GetAsync(id, CancellationToken.None) is { } r && BackupStatus.IsFinal(r.Status) ? r : null, TimeSpan.FromSeconds(90), id);
            Assert.True(record.Status == BackupStatus.Complete, record.ToBsonDocument().ToJson());
            Assert.Equal(SinkStatus.Succeeded, record.Sinks[BackupSinks.Public].Status);
            Assert.Equal(SinkStatus.Succeeded, record.Sinks[BackupSinks.GitHub].Status);
            records.Add(record);
        }

        // Each public file's plaintext is the stored artifact byte for byte (compressed once, by the snapshot service), and
        // decrypt turns it into exactly the tar inside that artifact.
        var store = _host.Services.GetRequiredService<IArtifactStore>();
        var downloads = Path.Combine(_work.Path, "downloads");
        Directory.CreateDirectory(downloads);
        foreach (var record in records)
        {
            var file = Path.Combine(downloads, $"{record.Id}.tgb");
            var encrypted = GitServer.ReadBlob(path, "public-snapshots", $"snapshots/{record.Id}.tgb");
            await File.WriteAllBytesAsync(file, encrypted);
            // Format version 2: the header names the snapshot, and decrypt says which one the file is.
            var header = StreamingEncryption.ParseHeader(encrypted);
            Assert.Equal((2, record.Id), (header.Version, header.SnapshotId));
            using (var plaintext = new MemoryStream())
            {
                await StreamingEncryption.DecryptAsync(new MemoryStream(encrypted), plaintext, EncryptionKeySettings.Ring(Convert.ToBase64String(_key), null)!, record.Id, CancellationToken.None);
                Assert.Equal(record.Artifact!.Sha256, Convert.ToHexStringLower(SHA256.HashData(plaintext.ToArray())));
                Assert.Equal([0x1f, 0x8b], plaintext.ToArray()[..2]);
            }

            var output = Path.Combine(downloads, $"{record.Id}.tar");
            var (exitCode, text) = await CliProcess.RunAsync(new Dictionary<string, string?> { ["ENCRYPTION_KEY"] = Convert.ToBase64String(_key) },
                TimeSpan.FromSeconds(60), "decrypt", "--in", file, "--out", output);
            Assert.True(exitCode == 0, text);
            Assert.Contains($"of snapshot {record.Id} encrypted with key {EncryptionKeyRing.KeyIdOf(_key)}", text);
            Assert.Equal(await TarSha256Async(store, record), Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(output))));
        }

        // decrypt --snapshot refuses a file of another snapshot (here renamed to the asked-for name), naming both.
        var renamed = Path.Combine(downloads, "renamed", "20261126T030000Z.tgb");
        Directory.CreateDirectory(Path.GetDirectoryName(renamed)!);
        File.Copy(Path.Combine(downloads, "20261126T010000Z.tgb"), renamed);
        var swapped = Path.Combine(downloads, "swapped.tar");
        var refusedSwap = await CliProcess.RunAsync(new Dictionary<string, string?> { ["ENCRYPTION_KEY"] = Convert.ToBase64String(_key) },
            TimeSpan.FromSeconds(60), "decrypt", "--in", renamed, "--snapshot", "20261126T030000Z", "--out", swapped);
        Assert.Equal(1, refusedSwap.ExitCode);
        Assert.Contains("holds snapshot 20261126T010000Z, not the requested snapshot 20261126T030000Z", refusedSwap.Output);
        Assert.False(File.Exists(swapped));

        // After a key rotation the old snapshots still decrypt with the old key among the previous ones.
        var rotated = Path.Combine(downloads, "rotated.tar");
        var rotation = await CliProcess.RunAsync(new Dictionary<string, string?>
        {
            ["ENCRYPTION_KEY"] = Convert.ToBase64String(EncryptionKeyRing.GenerateKey()),
            ["ENCRYPTION_PREVIOUS_KEYS"] = $"{Convert.ToBase64String(EncryptionKeyRing.GenerateKey())},{Convert.ToBase64String(_key)}",
        }, TimeSpan.FromSeconds(60), "decrypt", "--in", downloads, "--snapshot", "20261126T020000Z", "--out", rotated);
        Assert.True(rotation.ExitCode == 0, rotation.Output);
        Assert.Equal(await TarSha256Async(store, records[1]), Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(rotated))));

        // A wrong key: exit 1, a clear message, and no output file.
        var refused = Path.Combine(downloads, "refused.tar");
        var wrong = await CliProcess.RunAsync(new Dictionary<string, string?> { ["ENCRYPTION_KEY"] = Convert.ToBase64String(EncryptionKeyRing.GenerateKey()) },
            TimeSpan.FromSeconds(60), "decrypt", "--in", Path.Combine(downloads, "20261126T010000Z.tgb"), "--out", refused);
        Assert.Equal(1, wrong.ExitCode);
        Assert.Contains("not among the configured keys", wrong.Output);
        Assert.False(File.Exists(refused));
        Assert.Empty(Directory.EnumerateFiles(downloads, "*.partial"));

        // Cleanup: everything older than RETENTION_HOURS goes, except the newest snapshot; history becomes one commit.
        await bus.Publish(new CleanupRequested("20261126T030500Z", DateTimeOffset.UtcNow, "manual"));
        await TestHosts.EventuallyAsync(async () =>
            (await meta.GetAsync("20261126T020000Z", CancellationToken.None))!.Sinks[BackupSinks.Public].RemovedAt is not null ? "removed" : null,
            TimeSpan.FromSeconds(60), "the public cleanup");

        var files = GitServer.Run(path, "ls-tree", "-r", "--name-only", "public-snapshots").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["README.md", "index.json", "snapshots/20261126T030000Z.tgb"], files.Order(StringComparer.Ordinal));
        Assert.Equal("1", GitServer.Run(path, "rev-list", "--count", "public-snapshots").Trim());
        var index = PublicIndex.Parse(GitServer.ReadBlob(path, "public-snapshots", "index.json"));
        var entry = Assert.Single(index.Snapshots);
        Assert.Equal("20261126T030000Z", entry.Id);
        var bytes = GitServer.ReadBlob(path, "public-snapshots", "snapshots/20261126T030000Z.tgb");
        Assert.Equal(entry.Sha256, Convert.ToHexStringLower(SHA256.HashData(bytes)));
        Assert.Equal(entry.Size, bytes.Length);
        Assert.Equal(EncryptionKeyRing.KeyIdOf(_key), entry.KeyId);

        // Nothing public names a collection or a document count.
        var published = GitServer.Run(path, "log", "--format=%B", "public-snapshots") + Encoding.UTF8.GetString(GitServer.ReadBlob(path, "public-snapshots", "index.json"))
                        + Encoding.UTF8.GetString(GitServer.ReadBlob(path, "public-snapshots", "README.md")) + Encoding.Latin1.GetString(bytes);
        Assert.DoesNotContain("secret_customers", published);
        Assert.DoesNotContain("example.org", published);
        Assert.DoesNotContain("documents", published);
        Assert.DoesNotContain(Convert.ToBase64String(_key), _logs.All);
        Assert.DoesNotContain(_git.Token, _logs.All);

        // The private branch, in the same repository, keeps its own content (compacted by the GitHub sink's own cleanup).
        Assert.Contains("20261126T030000Z", GitServer.Run(path, "show", "backups:snapshot/manifest.json"));
    }

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.StopAsync();
            _host.Dispose();
        }

        if (_vhost is not null)
        {
            await _vhost.DisposeAsync();
        }

        _work.Dispose();
    }
}

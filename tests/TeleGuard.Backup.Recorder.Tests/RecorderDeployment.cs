using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.Destinations.GitHub;
using TeleGuard.Backup.Destinations.Public;
using TeleGuard.Backup.Destinations.Telegram;
using TeleGuard.Backup.Export;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Recording;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Recorder.Tests;

/// <summary>
/// A database on the replica-set stand-in with the snapshot service in this process (on a RabbitMQ virtual host of its
/// own) and recorders in this process or as separate programs; reads back what they recorded.
/// </summary>
public sealed class RecorderDeployment : IAsyncDisposable
{
    private readonly List<IHost> _hosts = [];
    private readonly List<CliProcess> _processes = [];
    private FakeTelegramBotApi? _telegram;

    private RecorderDeployment(string uri, string databaseName, RabbitMqVirtualHost broker, Dictionary<string, string?> settings)
    {
        Uri = uri;
        Client = new MongoClient(uri);
        Database = Client.GetDatabase(databaseName);
        Broker = broker;
        Settings = settings;
        Increments = new IncrementsStore(Database);
    }

    public string Uri { get; }
    public IMongoClient Client { get; }
    public IMongoDatabase Database { get; }
    public RabbitMqVirtualHost Broker { get; }
    public Dictionary<string, string?> Settings { get; }
    public IncrementsStore Increments { get; }
    public TemporaryDirectory Work { get; } = new();
    public CapturedLogs Logs { get; } = new();
    public PublishedMessages Published { get; } = new();

    /// <summary>Whether the private repository, the public branch and the Telegram channel are configured (their services run in <see cref="StartHostAsync"/>).</summary>
    public bool WithDestinations { get; private set; }

    public static async Task<RecorderDeployment> CreateAsync(int incrementSeconds = 1, bool withDestinations = false)
    {
        var name = TestServices.UniqueName("rec");
        var uri = await TestServices.MongoReplicaSetUriAsync(name);
        var broker = await TestServices.RabbitMqVirtualHostAsync();
        var settings = new Dictionary<string, string?>
        {
            ["MONGODB_URI"] = uri,
            ["REDIS_URL"] = await TestServices.RedisUrlAsync(),
            ["REDIS_KEY_PREFIX"] = name,
            ["RABBITMQ_URI"] = broker.AmqpUri,
            ["ASPNETCORE_URLS"] = "http://127.0.0.1:0",
            ["INCREMENT_SECONDS"] = incrementSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["RECORDER_LEASE_SECONDS"] = "3",
        };
        var deployment = new RecorderDeployment(uri, name, broker, settings) { WithDestinations = withDestinations };
        settings["SNAPSHOT_DIR"] = deployment.Work.Path;
        if (withDestinations)
        {
            var git = GitServer.FromEnvironment();
            var (repository, _) = git.CreateRepository();
            settings["GITHUB_REPO"] = repository.ToString();
            settings["GITHUB_TOKEN"] = git.Token;
            settings["GITHUB_PUBLIC_REPO"] = repository.ToString();
            settings["ENCRYPTION_KEY"] = Convert.ToBase64String(TeleGuard.Backup.Crypto.EncryptionKeyRing.GenerateKey());
            deployment._telegram = await FakeTelegramBotApi.StartAsync(TimeProvider.System);
            settings["TELEGRAM_BOT_TOKEN"] = deployment._telegram.Token;
            settings["TELEGRAM_CHANNEL_ID"] = FakeTelegramBotApi.ChatId.ToString(System.Globalization.CultureInfo.InvariantCulture);
            settings["TELEGRAM_API_BASE_URL"] = deployment._telegram.BaseUrl;
            settings["TELEGRAM_INCREMENT_MINUTES"] = "1";
        }

        await deployment.Database.GetCollection<BsonDocument>("items").InsertOneAsync(new BsonDocument { { "_id", -1 }, { "seed", true } });
        return deployment;
    }

    /// <summary>Hosts in this process: the snapshot service, and a recorder unless told otherwise.</summary>
    public async Task<IHost> StartHostAsync(bool snapshotService = true, bool recorder = true)
    {
        var builder = TestHosts.CreateBuilder(new Dictionary<string, string?>(Settings));
        builder.AddBackupDefaults();
        builder.Logging.AddProvider(Logs);
        builder.Services.AddPublishObserver(_ => Published);
        if (snapshotService)
        {
            builder.AddSnapshotService();
        }

        if (recorder)
        {
            builder.AddChangeRecorderService();
        }

        if (WithDestinations && snapshotService)
        {
            builder.AddGitHubSinkService();
            builder.AddPublicSinkService();
            builder.AddTelegramSinkService();
        }

        builder.AddBackupBus();
        var host = builder.Build();
        await host.StartAsync();
        _hosts.Add(host);
        return host;
    }

    public async Task StopHostAsync(IHost host)
    {
        await host.StopAsync();
        host.Dispose();
        _hosts.Remove(host);
    }

    /// <summary>The recorder's own program, as its container runs it.</summary>
    public async Task<CliProcess> StartRecorderProcessAsync()
    {
        var process = CliProcess.StartService("TeleGuard.Backup.Recorder", Settings);
        _processes.Add(process);
        await process.WaitForOutputAsync("Application started", TimeSpan.FromMinutes(1));
        return process;
    }

    /// <summary>Waits until recorded increments reach <paramref name="clusterTime"/> (every event up to it is recorded).</summary>
    public Task<List<IncrementRecord>> WaitForCoverageAsync(BsonTimestamp clusterTime, TimeSpan timeout) =>
        TestHosts.EventuallyAsync(async () =>
        {
            var all = await Increments.ListAsync(Database.DatabaseNamespace.DatabaseName, CancellationToken.None);
            return all.Count > 0 && all[^1].To >= clusterTime ? all : null;
        }, timeout, $"increments up to cluster time {clusterTime}");

    /// <summary>Reads each recorded increment back from the artifact store, verified against its manifest.</summary>
    public async Task<List<(IncrementManifest Manifest, List<BsonDocument> Events)>> ReadBackAsync(IEnumerable<IncrementRecord> records)
    {
        var store = new GridFsArtifactStore(Client.GetDatabase(Database.DatabaseNamespace.DatabaseName + ArtifactStoreOptions.DefaultDatabaseSuffix), ArtifactStoreOptions.DefaultBucket);
        var result = new List<(IncrementManifest, List<BsonDocument>)>();
        foreach (var record in records)
        {
            var file = Path.Combine(Work.Path, $"read-{record.Id}.jsonl");
            await using (var artifact = await store.OpenReadAsync(record.Artifact.Location, CancellationToken.None))
            {
                var manifest = await IncrementArchive.ExtractAsync(artifact, file, record.Id, CancellationToken.None);
                var events = new List<BsonDocument>();
                await using var stream = File.OpenRead(file);
                await foreach (var change in IncrementArchive.ReadEventsAsync(stream, manifest, CancellationToken.None))
                {
                    events.Add(change);
                }

                result.Add((manifest, events));
            }

            File.Delete(file);
        }

        return result;
    }

    /// <summary>The chain is unbroken: sequences, ranges and hashes link up one after another.</summary>
    public static void AssertChainLinks(IReadOnlyList<IncrementManifest> chain)
    {
        for (var i = 1; i < chain.Count; i++)
        {
            Assert.Equal(chain[i - 1].Chain, chain[i].Chain);
            Assert.Equal(chain[i - 1].Sequence + 1, chain[i].Sequence);
            Assert.Equal(chain[i - 1].To, chain[i].From);
            Assert.Equal(chain[i - 1].Sha256, chain[i].PreviousSha256);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            process.Dispose();
        }

        foreach (var host in _hosts)
        {
            await host.StopAsync();
            host.Dispose();
        }

        await Broker.DisposeAsync();
        if (_telegram is not null)
        {
            await _telegram.DisposeAsync();
        }

        Work.Dispose();
    }
}

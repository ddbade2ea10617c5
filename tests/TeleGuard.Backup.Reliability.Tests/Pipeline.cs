using System.Text.Json;
using System.Text.RegularExpressions;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.Cli;
using TeleGuard.Backup.Crypto;
using TeleGuard.Backup.Destinations.GitHub;
using TeleGuard.Backup.Destinations.Public;
using TeleGuard.Backup.Destinations.Telegram;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Reliability.Tests;

/// <summary>
/// One deployment for a fault test: a source database, a git repository on the smart-HTTP server (private and public
/// branches), the fake Bot API, Redis under its own key prefix and, when asked, a RabbitMQ virtual host. Services run
/// as processes (<see cref="StartService"/>) or in this process (<see cref="StartHostAsync"/>) with the same settings.
/// </summary>
public sealed partial class Pipeline : IAsyncDisposable
{
    public const string PrivateBranch = "backups";
    public const string PublicBranch = "public-snapshots";

    private readonly List<IAsyncDisposable> _disposables = [];
    private readonly List<CliProcess> _processes = [];
    private readonly List<IHost> _hosts = [];

    private Pipeline(GitServer git, FakeTelegramBotApi telegram, string mongoUri, string repositoryPath, Dictionary<string, string?> settings)
    {
        Git = git;
        Telegram = telegram;
        MongoUri = mongoUri;
        RepositoryPath = repositoryPath;
        Settings = settings;
        Database = new MongoClient(mongoUri).GetDatabase(MongoUrl.Create(mongoUri).DatabaseName);
        Meta = new BackupsMetaStore(Database, TimeProvider.System);
    }

    public TemporaryDirectory Work { get; } = new();
    public GitServer Git { get; }
    public FakeTelegramBotApi Telegram { get; }
    public string MongoUri { get; }
    public string RepositoryPath { get; }
    public IMongoDatabase Database { get; }

    /// <summary>backups_meta read directly (no fallback), as an operator's query would.</summary>
    public BackupsMetaStore Meta { get; }

    /// <summary>Every variable the services get; tests change them before starting services.</summary>
    public Dictionary<string, string?> Settings { get; }

    public RabbitMqVirtualHost? Broker { get; private set; }

    /// <summary>Everything the test's processes and hosts wrote (process output and captured logs).</summary>
    public CapturedLogs Logs { get; } = new();

    /// <summary>Every delivery the consumers of this test's hosts finished (not those of service processes).</summary>
    public ConsumedMessages Consumed { get; } = new();

    /// <summary>Every message this test's hosts published (not those of service processes).</summary>
    public PublishedMessages Published { get; } = new();

    public static async Task<Pipeline> CreateAsync(bool rabbitMq, int documents = 50, int documentBytes = 1000)
    {
        var git = GitServer.FromEnvironment();
        var (repository, repositoryPath) = git.CreateRepository();
        var telegram = await FakeTelegramBotApi.StartAsync(TimeProvider.System);
        var mongoUri = await TestServices.MongoUriAsync();
        var settings = new Dictionary<string, string?>
        {
            ["MONGODB_URI"] = mongoUri,
            ["REDIS_URL"] = await TestServices.RedisUrlAsync(),
            ["REDIS_KEY_PREFIX"] = TestServices.UniqueName("rel"),
            ["LOG_LEVEL"] = "Debug",
            ["ASPNETCORE_URLS"] = "http://127.0.0.1:0",
            ["GITHUB_REPO"] = repository.ToString(),
            ["GITHUB_PUBLIC_REPO"] = repository.ToString(),
            ["GITHUB_TOKEN"] = git.Token,
            ["ENCRYPTION_KEY"] = Convert.ToBase64String(EncryptionKeyRing.GenerateKey()),
            ["TELEGRAM_BOT_TOKEN"] = telegram.Token,
            ["TELEGRAM_CHANNEL_ID"] = FakeTelegramBotApi.ChatId.ToString(),
            ["TELEGRAM_API_BASE_URL"] = telegram.BaseUrl,
            ["SINK_LEASE_SECONDS"] = "5",
            ["RETRY_LIMIT"] = "2",
            ["RETRY_MIN_SECONDS"] = "1",
            ["RETRY_MAX_SECONDS"] = "2",
        };
        var pipeline = new Pipeline(git, telegram, mongoUri, repositoryPath, settings);
        pipeline._disposables.Add(telegram);
        settings["SNAPSHOT_DIR"] = pipeline.Work.Path;
        if (rabbitMq)
        {
            pipeline.Broker = await TestServices.RabbitMqVirtualHostAsync();
            pipeline._disposables.Add(pipeline.Broker);
            settings["RABBITMQ_URI"] = pipeline.Broker.AmqpUri;
        }

        await pipeline.SeedAsync(documents, documentBytes);
        return pipeline;
    }

    public void Track(IAsyncDisposable disposable) => _disposables.Add(disposable);

    // Random text so that the archive barely compresses and its size (hence the Telegram part count) is predictable.
    private async Task SeedAsync(int documents, int documentBytes)
    {
        var random = new Random(documents);
        var items = Database.GetCollection<BsonDocument>("items");
        var batch = Enumerable.Range(0, documents).Select(i =>
        {
            var bytes = new byte[documentBytes * 3 / 4];
            random.NextBytes(bytes);
            return new BsonDocument { { "_id", i }, { "payload", Convert.ToBase64String(bytes) }, { "price", new Decimal128(i * 1.10m) } };
        });
        await items.InsertManyAsync(batch);
    }

    /// <summary>
    /// A service's own program as a separate process (its container, in production), once its bus is started (so its
    /// queues exist and nothing published after this returns misses it).
    /// </summary>
    public async Task<CliProcess> StartServiceAsync(string assemblyName)
    {
        var process = CliProcess.StartService(assemblyName, Settings);
        _processes.Add(process);
        await process.WaitForOutputAsync("Application started", TimeSpan.FromMinutes(1));
        return process;
    }

    /// <summary>
    /// Services in this process (all but the scheduler unless <paramref name="services"/> says otherwise), on the bus
    /// from <see cref="Settings"/> with <paramref name="overrides"/> applied.
    /// </summary>
    public async Task<IHost> StartHostAsync(Action<HostApplicationBuilder>? services = null, IDictionary<string, string?>? overrides = null,
        TimeProvider? clock = null)
    {
        var settings = new Dictionary<string, string?>(Settings);
        foreach (var (name, value) in overrides ?? new Dictionary<string, string?>())
        {
            settings[name] = value;
        }

        var builder = TestHosts.CreateBuilder(settings);
        if (clock is not null)
        {
            builder.Services.AddSingleton(clock);
        }

        builder.AddBackupDefaults();
        builder.Logging.AddProvider(Logs);
        builder.Services.AddConsumeObserver(_ => Consumed);
        builder.Services.AddPublishObserver(_ => Published);
        if (services is null)
        {
            builder.AddAllBackupServices(includeScheduler: false);
        }
        else
        {
            services(builder);
        }

        builder.AddBackupBus();
        var host = builder.Build();
        await host.StartAsync();
        _hosts.Add(host);
        return host;
    }

    /// <summary>Publishes a request for a snapshot now (as the scheduler or the CLI does) and returns its id.</summary>
    public static async Task<string> RequestSnapshotAsync(IHost host)
    {
        var now = DateTimeOffset.UtcNow;
        var id = TeleGuard.Backup.SnapshotFormat.SnapshotIds.FromTime(now);
        await host.Services.GetRequiredService<MassTransit.IBus>().Publish(new TeleGuard.Backup.Contracts.SnapshotRequested(id, now, "manual"));
        return id;
    }

    /// <summary>Runs the CLI to completion with <see cref="Settings"/>; its output joins <see cref="ProcessOutput"/>.</summary>
    public async Task<CliResult> RunCliAsync(TimeSpan timeout, params string[] args)
    {
        var result = await CliProcess.RunAsync(Settings, timeout, args);
        _finishedOutput.Add(result.Output);
        return result;
    }

    private readonly List<string> _finishedOutput = [];

    /// <summary>How many lines the test's hosts logged that contain <paramref name="text"/>.</summary>
    public int LogLinesContaining(string text) => Logs.Lines.Count(l => l.Contains(text, StringComparison.Ordinal));

    /// <summary>Everything every process of this test printed so far.</summary>
    public string ProcessOutput => string.Join('\n', _finishedOutput.Concat(_processes.Select(p => p.Output)).Append(Logs.All));

    [GeneratedRegex(@"Requested snapshot (\d{8}T\d{6}Z)")]
    private static partial Regex RequestedPattern();

    /// <summary>Requests a snapshot with the CLI (publishes SnapshotRequested on the broker) and returns its id.</summary>
    public async Task<string> RequestSnapshotAsync()
    {
        var result = await RunCliAsync(TimeSpan.FromMinutes(1), "snapshot");
        Assert.True(result.ExitCode == 0, result.Output);
        return RequestedPattern().Match(result.Output).Groups[1].Value;
    }

    public Task<BackupRecord> FinishedAsync(string id, TimeSpan? timeout = null) =>
        TestHosts.EventuallyAsync(async () => await Meta.GetAsync(id, CancellationToken.None) is { } r && BackupStatus.IsFinal(r.Status) ? r : null,
            timeout ?? TimeSpan.FromMinutes(3), $"snapshot {id} to finish");

    /// <summary>Commits on a branch of the server's repository whose message carries <c>Snapshot-Id: id</c>.</summary>
    public IReadOnlyList<string> CommitsFor(string branch, string id)
    {
        if (!BranchExists(branch))
        {
            return [];
        }

        var log = GitServer.Run(RepositoryPath, "log", "--format=%H%x1f%B%x1e", branch);
        return log.Split('\x1e', StringSplitOptions.RemoveEmptyEntries)
            .Select(entry => entry.Trim().Split('\x1f'))
            .Where(fields => fields.Length == 2 && fields[1].Contains($"Snapshot-Id: {id}", StringComparison.Ordinal))
            .Select(fields => fields[0])
            .ToList();
    }

    public bool BranchExists(string branch)
    {
        try
        {
            GitServer.Run(RepositoryPath, "rev-parse", "--verify", "--quiet", $"refs/heads/{branch}");
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    public string Head(string branch) => GitServer.Run(RepositoryPath, "rev-parse", $"refs/heads/{branch}").Trim();

    /// <summary>Snapshot ids listed in the public branch's index.json (empty when the branch does not exist).</summary>
    public IReadOnlyList<string> PublicIndexIds()
    {
        if (!BranchExists(PublicBranch))
        {
            return [];
        }

        using var index = JsonDocument.Parse(GitServer.ReadBlob(RepositoryPath, PublicBranch, "index.json"));
        return index.RootElement.GetProperty("snapshots").EnumerateArray().Select(s => s.GetProperty("id").GetString()!).ToList();
    }

    /// <summary>Files under snapshots/ on the public branch.</summary>
    public IReadOnlyList<string> PublicFiles() => BranchExists(PublicBranch)
        ? GitServer.Run(RepositoryPath, "ls-tree", "--name-only", "-r", PublicBranch, "snapshots/").Split('\n', StringSplitOptions.RemoveEmptyEntries)
        : [];

    /// <summary>Telegram messages whose caption names the snapshot.</summary>
    public IReadOnlyList<FakeMessage> TelegramMessagesFor(string id) =>
        Telegram.Messages.Where(m => m.Caption.Contains($"snapshot {id} ", StringComparison.Ordinal)).ToList();

    /// <summary>Asserts what a complete snapshot looks like everywhere: one commit per branch, one public file set, each Telegram part once, all as recorded.</summary>
    public void AssertExactlyOneCopyEverywhere(BackupRecord record)
    {
        var id = record.Id;
        var privateCommits = CommitsFor(PrivateBranch, id);
        Assert.Single(privateCommits);
        Assert.Equal(privateCommits[0], record.Sinks[BackupSinks.GitHub].LocationAs<GitHubLocation>()!.Commit);

        var publicCommits = CommitsFor(PublicBranch, id);
        Assert.Single(publicCommits);
        var publicCopy = record.Sinks[BackupSinks.Public].LocationAs<PublicLocation>()!;
        Assert.Equal(publicCommits[0], publicCopy.Commit);
        Assert.Single(PublicIndexIds(), i => i == id);
        var files = publicCopy.Files.Order().ToList();
        Assert.Equal(files, PublicFiles().Where(f => f.Contains(id, StringComparison.Ordinal)).Order().ToList());

        var telegram = record.Sinks[BackupSinks.Telegram].LocationAs<TelegramLocation>()!;
        var recordedIds = telegram.MessageIds!;
        var messages = TelegramMessagesFor(id);
        Assert.Equal(recordedIds.Order(), messages.Select(m => m.Id).Order());
        Assert.Equal(telegram.PartCount, messages.Count);
        Assert.Equal(messages.Count, messages.Select(m => m.Caption).Distinct().Count());
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            process.Dispose();
        }

        foreach (var host in _hosts)
        {
            try
            {
                await host.StopAsync(TimeSpan.FromSeconds(10));
            }
            catch (Exception)
            {
                // A host whose broker or database was cut may not stop cleanly.
            }

            host.Dispose();
        }

        foreach (var disposable in Enumerable.Reverse(_disposables))
        {
            await disposable.DisposeAsync();
        }

        Work.Dispose();
    }
}

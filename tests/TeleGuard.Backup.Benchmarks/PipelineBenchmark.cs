using System.Globalization;
using MassTransit;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Crypto;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Benchmarks;

/// <summary>
/// The real services as separate processes (as in docker compose) on RabbitMQ, against a database of the given size
/// in the MongoDB of services.env, the git server and the fake Bot API: the time from SnapshotRequested to every
/// destination recorded, the export time, each sink's time in the parallel run and alone, and each process's peak
/// resident memory (VmHWM).
/// </summary>
public static class PipelineBenchmark
{
    private static readonly (string Sink, string Assembly)[] Sinks =
    [
        (BackupSinks.GitHub, "TeleGuard.Backup.GitHub"), (BackupSinks.Public, "TeleGuard.Backup.Public"), (BackupSinks.Telegram, "TeleGuard.Backup.Telegram"),
    ];

    public static async Task<int> RunAsync(string[] args)
    {
        var megabytes = args.Length >= 2 && args[0] == "--mb" ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10;
        var directoryStore = args.Contains("directory"); // --store directory: artifacts on a shared volume instead of GridFS
        // --warm: the services run for days, so the first snapshot after a start (JIT, connections, pools) is not the
        // hourly one: one snapshot first, not measured, then every document changed so that the measured snapshot's
        // files are all new again (the GitHub sink pushes every part, as the first time); the same for each sink alone.
        var warm = args.Contains("--warm");
        var database = await SourceDatabase.FillAsync(megabytes, padBytes: megabytes >= 1024 ? 10 * 1024 : 1024);
        var git = GitServer.FromEnvironment();
        var (repository, _) = git.CreateRepository();
        await using var telegram = await FakeTelegramBotApi.StartAsync(TimeProvider.System, localServer: true);
        await using var vhost = await TestServices.RabbitMqVirtualHostAsync();
        using var work = new TemporaryDirectory();
        var settings = new Dictionary<string, string?>
        {
            ["MONGODB_URI"] = database,
            ["RABBITMQ_URI"] = vhost.AmqpUri,
            ["REDIS_URL"] = await TestServices.RedisUrlAsync(),
            ["REDIS_KEY_PREFIX"] = TestServices.UniqueName("bench"),
            ["SNAPSHOT_DIR"] = work.Path,
            ["LOG_LEVEL"] = "Warning",
            ["ASPNETCORE_URLS"] = "http://127.0.0.1:0",
            ["GITHUB_REPO"] = repository.ToString(),
            ["GITHUB_PUBLIC_REPO"] = repository.ToString(),
            ["GITHUB_TOKEN"] = git.Token,
            ["ENCRYPTION_KEY"] = Convert.ToBase64String(EncryptionKeyRing.GenerateKey()),
            ["TELEGRAM_BOT_TOKEN"] = telegram.Token,
            ["TELEGRAM_CHANNEL_ID"] = FakeTelegramBotApi.ChatId.ToString(CultureInfo.InvariantCulture),
            ["TELEGRAM_API_BASE_URL"] = telegram.BaseUrl,
            ["TELEGRAM_LOCAL_API"] = "true",
            ["TELEGRAM_PART_SIZE_MB"] = "500",
        };
        if (directoryStore)
        {
            settings["ARTIFACT_STORE"] = "directory";
            settings["ARTIFACT_DIR"] = Path.Combine(work.Path, "artifacts");
        }

        var processes = new List<(string Name, CliProcess Process)>();
        try
        {
            foreach (var assembly in Sinks.Select(s => s.Assembly).Prepend("TeleGuard.Backup.Snapshot"))
            {
                var process = CliProcess.StartService(assembly, settings);
                processes.Add((assembly, process));
            }

            foreach (var (_, process) in processes)
            {
                await process.WaitForOutputAsync("Application started", TimeSpan.FromMinutes(1));
            }

            using var publisher = await StartPublisherAsync(settings);
            await using var stopPublisher = new StopOnDispose(publisher);
            var source = new MongoClient(database).GetDatabase(MongoUrl.Create(database).DatabaseName);
            var meta = new BackupsMetaStore(source, TimeProvider.System);
            var records = source.GetCollection<BsonDocument>(BackupsMetaStore.CollectionName);
            BackupRecord? warmRecord = null;
            if (warm)
            {
                var warmRequested = DateTimeOffset.UtcNow;
                var warmId = SnapshotIds.FromTime(warmRequested);
                await publisher.Services.GetRequiredService<IBus>().Publish(new SnapshotRequested(warmId, warmRequested, "benchmark warm-up"));
                warmRecord = await FinishedAsync(meta, warmId, r => BackupStatus.IsFinal(r.Status));
                if (warmRecord.Status != BackupStatus.Complete)
                {
                    Console.WriteLine($"warm-up snapshot {warmId} ended {warmRecord.Status}");
                    return 1;
                }

                foreach (var name in await (await source.ListCollectionNamesAsync(new ListCollectionNamesOptions { Filter = new BsonDocument("name", new BsonDocument("$ne", BackupsMetaStore.CollectionName)) })).ToListAsync())
                {
                    await source.GetCollection<BsonDocument>(name).UpdateManyAsync(FilterDefinition<BsonDocument>.Empty,
                        new BsonDocument("$set", new BsonDocument("warmedUp", Guid.NewGuid().ToString())));
                }

                while (SnapshotIds.FromTime(DateTimeOffset.UtcNow) == warmId)
                {
                    await Task.Delay(100); // snapshot ids have whole seconds
                }

                Console.WriteLine($"warm-up snapshot {warmId}: {warmRecord.Status}; every document changed since");
            }

            var requested = DateTimeOffset.UtcNow;
            var id = SnapshotIds.FromTime(requested);
            await publisher.Services.GetRequiredService<IBus>().Publish(new SnapshotRequested(id, requested, "benchmark"));
            var record = await FinishedAsync(meta, id, r => BackupStatus.IsFinal(r.Status));
            if (record.Status != BackupStatus.Complete)
            {
                Console.WriteLine($"snapshot {id} ended {record.Status}: " + string.Join("; ", record.Sinks.Select(s => $"{s.Key} {s.Value.Status} {s.Value.Error}")));
                return 1;
            }

            var export = (record.CreatedAt!.Value - requested.UtcDateTime).TotalSeconds;
            var endToEnd = (record.Sinks.Values.Max(s => s.At!.Value) - requested.UtcDateTime).TotalSeconds;
            var parallel = Sinks.ToDictionary(s => s.Sink, s => (record.Sinks[s.Sink].At!.Value - record.Sinks[s.Sink].StartedAt!.Value).TotalSeconds);
            Console.WriteLine($"snapshot {id}: {record.Manifest!.Bytes / 1048576.0:F1} MiB of JSON; export {export:F2} s; end to end {endToEnd:F2} s; "
                              + "sinks in parallel: " + string.Join(", ", parallel.Select(p => $"{p.Key} {p.Value:F2} s")));
            foreach (var (name, process) in processes)
            {
                BenchmarkResult.Report($"pipeline.peak_mib.{name.Split('.').Last().ToLowerInvariant()}", PeakResidentMiB(process.Id));
            }

            // Each sink alone on the same snapshot (the others stopped), for export + slowest sink: each in a fresh repository
            // with a fresh clone, as the parallel run's first push was (on the same repository the server and the clone would
            // already hold every blob of this snapshot, and the GitHub sink would send almost nothing).
            foreach (var (_, process) in processes.Skip(1))
            {
                process.Kill();
            }

            // The sink copies a snapshot it has not recorded yet; seconds from its start to its record.
            async Task<double> CopyAgainAsync(BackupRecord snapshot, string sink)
            {
                await records.UpdateOneAsync(new BsonDocument("_id", snapshot.Id), new BsonDocument("$unset", new BsonDocument($"sinks.{sink}", "")));
                var artifact = snapshot.Artifact!;
                await publisher.Services.GetRequiredService<IBus>().Publish(new SnapshotCreated(snapshot.Id, DateTimeOffset.UtcNow, artifact.Location, artifact.Size,
                    artifact.Sha256, snapshot.Manifest!.Collections.Count, snapshot.Manifest.Documents));
                var done = await FinishedAsync(meta, snapshot.Id, r => r.Sinks.GetValueOrDefault(sink)?.Status == SinkStatus.Succeeded);
                return (done.Sinks[sink].At!.Value - done.Sinks[sink].StartedAt!.Value).TotalSeconds;
            }

            var alone = new Dictionary<string, double>();
            foreach (var (sink, assembly) in Sinks)
            {
                var (ownRepository, _) = git.CreateRepository();
                var own = new Dictionary<string, string?>(settings)
                {
                    ["GITHUB_REPO"] = ownRepository.ToString(),
                    ["GITHUB_PUBLIC_REPO"] = ownRepository.ToString(),
                    ["SNAPSHOT_DIR"] = Path.Combine(work.Path, $"alone-{sink}"),
                };
                using var process = CliProcess.StartService(assembly, own);
                await process.WaitForOutputAsync("Application started", TimeSpan.FromMinutes(1));
                if (warmRecord is not null)
                {
                    await CopyAgainAsync(warmRecord, sink);
                }

                alone[sink] = await CopyAgainAsync(record, sink);
            }

            var slowest = alone.MaxBy(a => a.Value);
            Console.WriteLine(warm ? "(warm: each process had copied one snapshot before the measured one)" : "(cold: the first snapshot of freshly started processes)");
            Console.WriteLine("sinks alone: " + string.Join(", ", alone.Select(a => $"{a.Key} {a.Value:F2} s"))
                              + $"; end to end / (export + slowest sink alone) = {endToEnd / (export + slowest.Value):F2} (target <= 1.25)");
            BenchmarkResult.Report("pipeline.json_mib", record.Manifest.Bytes / 1048576.0);
            BenchmarkResult.Report("pipeline.export_s", export);
            BenchmarkResult.Report("pipeline.end_to_end_s", endToEnd);
            BenchmarkResult.Report("pipeline.slowest_sink_alone_s", slowest.Value);
            BenchmarkResult.Report("pipeline.ratio", endToEnd / (export + slowest.Value));
            foreach (var (sink, _) in Sinks)
            {
                BenchmarkResult.Report($"pipeline.parallel_s.{sink}", parallel[sink]);
                BenchmarkResult.Report($"pipeline.alone_s.{sink}", alone[sink]);
            }
            return 0;
        }
        finally
        {
            foreach (var (_, process) in processes)
            {
                process.Dispose();
            }
        }
    }

    private sealed class StopOnDispose(IHost host) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await host.StopAsync();
    }

    private static async Task<IHost> StartPublisherAsync(Dictionary<string, string?> settings)
    {
        var builder = TestHosts.CreateBuilder(settings);
        builder.AddBackupDefaults();
        builder.AddBackupBus();
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    private static Task<BackupRecord> FinishedAsync(BackupsMetaStore meta, string id, Func<BackupRecord, bool> done) =>
        TestHosts.EventuallyAsync(async () => await meta.GetAsync(id, CancellationToken.None) is { } r && done(r) ? r : null, TimeSpan.FromMinutes(30), $"snapshot {id}");

    internal static double PeakResidentMiB(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
    }
}

/// <summary>A database of about the given size of synthetic documents in MONGODB_URI, filled once and reused.</summary>
public static class SourceDatabase
{
    public static async Task<string> FillAsync(int megabytes, int padBytes)
    {
        var server = Environment.GetEnvironmentVariable("MONGODB_URI") ?? "mongodb://127.0.0.1:27017/";
        var name = $"bench_source_{megabytes}mb";
        var uri = TestServices.WithDatabase(server, name);
        var collection = new MongoClient(uri).GetDatabase(name).GetCollection<BsonDocument>("users");
        var target = megabytes * 1024L * 1024 / (padBytes + 400);
        var existing = await collection.EstimatedDocumentCountAsync();
        if (existing < target)
        {
            Console.WriteLine($"filling {name}.users with {target - existing:N0} documents…");
            for (var i = existing; i < target; i += 1000)
            {
                var count = (int)Math.Min(1000, target - i);
                await collection.InsertManyAsync(Enumerable.Range((int)i, count).Select(n => SyntheticDocuments.Create(n, padBytes)), new InsertManyOptions { IsOrdered = false });
            }
        }

        return uri;
    }
}

/// <summary>
/// <c>drop-bench-databases</c>: drops every <c>bench_*</c> database in MONGODB_URI. The suite runs it between the large
/// runs: the MongoDB stand-in keeps every document in Python objects and stops answering large finds once it holds
/// a few GiB.
/// </summary>
public static class BenchDatabases
{
    public static async Task<int> DropAsync()
    {
        var client = new MongoClient(Environment.GetEnvironmentVariable("MONGODB_URI") ?? "mongodb://127.0.0.1:27017/");
        foreach (var name in (await (await client.ListDatabaseNamesAsync()).ToListAsync()).Where(n => n.StartsWith("bench_", StringComparison.Ordinal)))
        {
            await client.DropDatabaseAsync(name);
            Console.WriteLine($"dropped {name}");
        }

        return 0;
    }
}

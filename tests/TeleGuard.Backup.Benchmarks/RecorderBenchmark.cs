using System.Diagnostics;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Benchmarks;

/// <summary>
/// The change recorder as its own process against the replica-set stand-in (MONGODB_RS_URI): a writer inserts and updates
/// at a steady rate (or as fast as it can) for a while; prints the events per second written and recorded, the lag from
/// a write's cluster time to its increment being recorded (median and max, second resolution), and the recorder's peak
/// resident memory.
/// </summary>
public static class RecorderBenchmark
{
    private static readonly string[] Sinks = ["github", "public", "telegram"];

    public static async Task<int> RunAsync(string[] args)
    {
        var seconds = (int)BenchmarkOptions.Number(args, "--seconds", 60);
        var rate = BenchmarkOptions.Number(args, "--rate", 0); // events per second; 0: as fast as the writer goes
        var incrementSeconds = (int)BenchmarkOptions.Number(args, "--increment-seconds", 10);
        // --destinations: the GitHub, public and Telegram services run too (git server of services.env, a fake Bot API with
        // the hosted limits, TELEGRAM_INCREMENT_MINUTES=1), and the lag is measured to each of them as well.
        var destinations = args.Contains("--destinations");
        var name = $"bench_rec_{Guid.NewGuid():N}"[..20];
        var uri = TestServices.WithDatabase(Environment.GetEnvironmentVariable("MONGODB_RS_URI") ?? throw new InvalidOperationException("MONGODB_RS_URI is not set."), name);
        var client = new MongoClient(uri);
        var database = client.GetDatabase(name);
        using var work = new TemporaryDirectory();

        // The chain starts from a snapshot record at the current cluster time (the export itself is not measured here).
        var start = new BsonTimestamp(await ClusterTimes.NowAsync(client));
        var snapshotId = SnapshotIds.FromTime(DateTimeOffset.UtcNow);
        await database.GetCollection<BackupRecord>(BackupsMetaStore.CollectionName).InsertOneAsync(new BackupRecord
        {
            Id = snapshotId, Status = BackupStatus.Complete, RequestedAt = DateTime.UtcNow, CreatedAt = DateTime.UtcNow,
            Artifact = new ArtifactRecord { Location = "dir:none", Size = 0, Sha256 = new string('0', 64) },
            Manifest = new ManifestSummary { FormatVersion = 2, Consistency = "snapshot", ClusterTime = start, DataTime = DateTime.UtcNow },
        });

        var settings = new Dictionary<string, string?>
        {
            ["MONGODB_URI"] = uri,
            ["REDIS_URL"] = Environment.GetEnvironmentVariable("REDIS_URL"),
            ["REDIS_KEY_PREFIX"] = name,
            ["RABBITMQ_URI"] = Environment.GetEnvironmentVariable("RABBITMQ_URI"),
            ["ASPNETCORE_URLS"] = "http://127.0.0.1:0",
            ["SNAPSHOT_DIR"] = work.Path,
            ["INCREMENT_SECONDS"] = incrementSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["LOG_LEVEL"] = "Warning",
        };
        await using var telegram = destinations ? await FakeTelegramBotApi.StartAsync(TimeProvider.System) : null;
        var services = new List<CliProcess>();
        var serviceNames = new List<string>();
        if (telegram is not null)
        {
            var git = GitServer.FromEnvironment();
            settings["GITHUB_REPO"] = git.CreateRepository().Url.ToString();
            settings["GITHUB_TOKEN"] = git.Token;
            settings["GITHUB_PUBLIC_REPO"] = git.CreateRepository().Url.ToString();
            settings["ENCRYPTION_KEY"] = Convert.ToBase64String(TeleGuard.Backup.Crypto.EncryptionKeyRing.GenerateKey());
            settings["TELEGRAM_BOT_TOKEN"] = telegram.Token;
            settings["TELEGRAM_CHANNEL_ID"] = FakeTelegramBotApi.ChatId.ToString(System.Globalization.CultureInfo.InvariantCulture);
            settings["TELEGRAM_API_BASE_URL"] = telegram.BaseUrl;
            settings["TELEGRAM_INCREMENT_MINUTES"] = "1";
            foreach (var assembly in new[] { "TeleGuard.Backup.GitHub", "TeleGuard.Backup.Public", "TeleGuard.Backup.Telegram" })
            {
                services.Add(CliProcess.StartService(assembly, settings));
                serviceNames.Add(assembly);
                await services[^1].WaitForOutputAsync("Application started", TimeSpan.FromMinutes(1));
            }
        }

        using var recorder = CliProcess.StartService("TeleGuard.Backup.Recorder", settings);
        await recorder.WaitForOutputAsync("Application started", TimeSpan.FromMinutes(1));
        var increments = new IncrementsStore(database);
        await TestHosts.EventuallyAsync(() => increments.FindLatestAsync(name, CancellationToken.None), TimeSpan.FromMinutes(2), "the first increment");

        var items = database.GetCollection<BsonDocument>("items");
        var written = 0L;
        var clock = Stopwatch.StartNew();
        var payload = new string('p', 200);
        while (clock.Elapsed < TimeSpan.FromSeconds(seconds))
        {
            var id = written / 2;
            await (written % 2 == 0
                ? items.InsertOneAsync(new BsonDocument { { "_id", id }, { "payload", payload }, { "n", 0 } })
                : items.UpdateOneAsync(new BsonDocument("_id", id), new BsonDocument("$inc", new BsonDocument("n", 1))));
            written++;
            if (rate > 0 && clock.Elapsed.TotalSeconds < written / rate)
            {
                await Task.Delay(TimeSpan.FromSeconds(written / rate) - clock.Elapsed);
            }
        }

        var writeSeconds = clock.Elapsed.TotalSeconds;
        var last = new BsonTimestamp(await ClusterTimes.NowAsync(client));
        var records = await TestHosts.EventuallyAsync(async () =>
        {
            var all = await increments.ListAsync(name, CancellationToken.None);
            return all.Count > 0 && all[^1].To >= last ? all : null;
        }, TimeSpan.FromMinutes(10), "increments up to the last write");
        var recordedSeconds = clock.Elapsed.TotalSeconds;
        var peak = PipelineBenchmark.PeakResidentMiB(recorder.Id);
        var servicePeaks = services.Select((s, i) => (Name: serviceNames[i], MiB: PipelineBenchmark.PeakResidentMiB(s.Id))).ToList();

        // Lag: from a write (its cluster time, the server's clock, seconds) to its increment being recorded. An
        // increment's events lie in (From, To]: its middle stands for the typical one, its start for the oldest.
        var lags = new List<double>();
        var maxLag = 0.0;
        foreach (var record in records.Where(r => r.Events > 0))
        {
            var closed = new DateTimeOffset(DateTime.SpecifyKind(record.ClosedAt, DateTimeKind.Utc)).ToUnixTimeMilliseconds() / 1000.0;
            var from = Math.Max(record.From.Timestamp, start.Timestamp);
            lags.Add(closed - ((double)from + record.To.Timestamp) / 2.0);
            maxLag = Math.Max(maxLag, closed - from);
        }

        lags.Sort();
        var events = records.Sum(r => r.Events);
        Console.WriteLine($"recorder: {written} writes in {writeSeconds:F1} s ({written / writeSeconds:F0} events/s written); {events} events recorded in {records.Count} increments");
        Console.WriteLine($"recorder: every write recorded {recordedSeconds - writeSeconds:F1} s after the last one; {events / recordedSeconds:F0} events/s recorded end to end");
        Console.WriteLine($"recorder: lag from write to recorded increment (INCREMENT_SECONDS={incrementSeconds}): median {lags[lags.Count / 2]:F1} s, max {maxLag:F1} s");
        Console.WriteLine($"recorder: peak resident memory {peak:F0} MiB");
        foreach (var (service, mib) in servicePeaks)
        {
            Console.WriteLine($"recorder: peak resident memory of {service} {mib:F0} MiB");
        }

        BenchmarkResult.Report("recorder_events_per_second", events / recordedSeconds);
        BenchmarkResult.Report("recorder_lag_median_seconds", lags[lags.Count / 2]);
        BenchmarkResult.Report("recorder_lag_max_seconds", maxLag);
        BenchmarkResult.Report("recorder_peak_mib", peak);
        if (destinations)
        {
            var copied = await TestHosts.EventuallyAsync(async () =>
            {
                var all = (await increments.ListAsync(name, CancellationToken.None)).Take(records.Count).ToList();
                return all.All(i => Sinks.All(sink => i.Sinks.GetValueOrDefault(sink)?.Status == "succeeded")) ? all : null;
            }, TimeSpan.FromMinutes(10), "every increment copied to both branches and the channel");
            foreach (var sink in Sinks)
            {
                var sinkLags = new List<double>();
                var sinkMax = 0.0;
                foreach (var record in copied.Where(r => r.Events > 0))
                {
                    var at = new DateTimeOffset(DateTime.SpecifyKind(record.Sinks[sink].At!.Value, DateTimeKind.Utc)).ToUnixTimeMilliseconds() / 1000.0;
                    var from = Math.Max(record.From.Timestamp, start.Timestamp);
                    sinkLags.Add(at - ((double)from + record.To.Timestamp) / 2.0);
                    sinkMax = Math.Max(sinkMax, at - from);
                }

                sinkLags.Sort();
                Console.WriteLine($"recorder: lag from write to its increment recorded in {sink}: median {sinkLags[sinkLags.Count / 2]:F1} s, max {sinkMax:F1} s");
                BenchmarkResult.Report($"recorder_lag_{sink}_median_seconds", sinkLags[sinkLags.Count / 2]);
                BenchmarkResult.Report($"recorder_lag_{sink}_max_seconds", sinkMax);
            }
        }

        foreach (var service in services)
        {
            service.Dispose();
        }

        await client.DropDatabaseAsync(name);
        return events >= written ? 0 : 1;
    }
}

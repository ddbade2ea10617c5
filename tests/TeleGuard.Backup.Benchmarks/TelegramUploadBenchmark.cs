using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MongoDB.Driver;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Destinations;
using TeleGuard.Backup.Destinations.Telegram;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Benchmarks;

/// <summary>
/// The Telegram memory target: the Telegram sink's upload of a 1 GiB archive to a local Bot API server (500 MB parts) in
/// bounded memory. The fake Bot API runs in a child process so that only the sink's memory is measured here. The
/// artifact is a real gzip snapshot archive of documents holding random bytes, so that it stays about that size.
/// </summary>
public static class TelegramUploadBenchmark
{
    public static async Task<int> ServeFakeAsync()
    {
        await using var fake = await FakeTelegramBotApi.StartAsync(TimeProvider.System, localServer: true);
        Console.WriteLine($"{fake.BaseUrl} {fake.Token}");
        await Console.In.ReadToEndAsync(); // until the parent closes stdin
        Console.WriteLine($"messages {fake.Messages.Count} sizes {string.Join(",", fake.Messages.Select(m => m.Size))}");
        return 0;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var megabytes = Option(args, "--mb", 1024);
        var partMegabytes = Option(args, "--part-mb", 500);
        var work = Path.Combine(Path.GetTempPath(), $"bench-telegram-{Guid.NewGuid():N}");
        Directory.CreateDirectory(work);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add(typeof(TelegramUploadBenchmark).Assembly.Location);
        start.ArgumentList.Add("fake-telegram");
        using var fakeProcess = Process.Start(start)!;
        try
        {
            var endpoint = (await fakeProcess.StandardOutput.ReadLineAsync())!.Split(' ');
            var store = new DirectoryArtifactStore(Path.Combine(work, "artifacts"));
            // A real snapshot artifact (the gzip tar the snapshot service stores), of documents holding random bytes so
            // that it hardly compresses: base64 in the JSONL, which gzip brings back to about 3/4.
            var snapshot = Path.Combine(work, "snapshot");
            var documents = (int)(megabytes * 1048576L * 4 / 3 / 4200);
            var manifest = await BenchSnapshots.WriteAsync(snapshot, documents, collections: 1, i =>
            {
                var random = new byte[3 * 1024];
                new Random(i).NextBytes(random);
                return new MongoDB.Bson.BsonDocument { { "_id", i }, { "random", new MongoDB.Bson.BsonBinaryData(random) } };
            });
            var id = TeleGuard.Backup.SnapshotFormat.SnapshotIds.FromTime(DateTimeOffset.UtcNow);
            manifest = manifest with { SnapshotId = id };
            var artifact = await store.SaveAsync(id, (s, ct) => TeleGuard.Backup.SnapshotFormat.SnapshotArchive.WriteCompressedAsync(snapshot, manifest, s, ct), CancellationToken.None);
            Directory.Delete(snapshot, recursive: true);

            var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["TELEGRAM_BOT_TOKEN"] = endpoint[1],
                ["TELEGRAM_CHANNEL_ID"] = FakeTelegramBotApi.ChatId.ToString(),
                ["TELEGRAM_API_BASE_URL"] = endpoint[0],
                ["TELEGRAM_LOCAL_API"] = "true",
                ["TELEGRAM_PART_SIZE_MB"] = partMegabytes.ToString(),
                ["SNAPSHOT_DIR"] = work,
            }).Build();
            var telegramOptions = configuration.Get<TelegramSinkOptions>()!;
            var workOptions = configuration.Get<WorkDirectoryOptions>()!;
            var uri = Environment.GetEnvironmentVariable("MONGODB_URI") ?? "mongodb://127.0.0.1:27017/";
            var benchDatabase = new MongoClient(uri).GetDatabase("bench_telegram");
            var meta = new BackupsMetaStore(benchDatabase, TimeProvider.System);
            using var channel = new TelegramChannel(Options.Create(telegramOptions), TimeProvider.System, NullLogger<TelegramChannel>.Instance);
            var sender = new TelegramArchiveSender(channel, new TelegramMessageRecords(meta, new TelegramBatchStore(benchDatabase, TimeProvider.System)),
                TimeProvider.System, NullLogger<TelegramArchiveSender>.Instance);
            var uploader = new TelegramUploader(sender, new SnapshotArtifactFetcher(store), meta, Options.Create(telegramOptions), Options.Create(workOptions));

            // The uploader records its progress only while it holds the sink's lease, as the sink runner arranges.
            await meta.RecordRequestedAsync(id, DateTimeOffset.UtcNow, "benchmark", CancellationToken.None);
            await meta.TryClaimSinkAsync(id, BackupSinks.Telegram, "benchmark", TimeSpan.FromHours(1), CancellationToken.None);

            GC.Collect();
            var before = Process.GetCurrentProcess().WorkingSet64;
            var stopwatch = Stopwatch.StartNew();
            var location = await uploader.UploadAsync(new SnapshotCreated(id, DateTimeOffset.UtcNow, artifact.Location,
                artifact.Size, artifact.Sha256, 1, 1), "benchmark", CancellationToken.None);
            var process = Process.GetCurrentProcess();
            process.Refresh();
            Console.WriteLine($"uploaded a {location.ArchiveSize / 1048576.0:F0} MiB archive in {location.PartCount} parts of at most {partMegabytes} MB "
                              + $"in {stopwatch.Elapsed.TotalSeconds:F1} s (the stored gzip artifact checked and uploaded to the fake local Bot API)");
            Console.WriteLine($"sink process memory: working set {before / 1048576.0:F0} MiB before, peak working set {process.PeakWorkingSet64 / 1048576.0:F0} MiB");
            BenchmarkResult.Report("telegram.mib", location.ArchiveSize / 1048576.0);
            BenchmarkResult.Report("telegram.seconds", stopwatch.Elapsed.TotalSeconds);
            BenchmarkResult.Report("telegram.peak_mib", BenchmarkResult.PeakResidentMiB());
            fakeProcess.StandardInput.Close();
            Console.WriteLine($"fake Bot API: {await fakeProcess.StandardOutput.ReadLineAsync()}");
            return 0;
        }
        finally
        {
            if (!fakeProcess.HasExited)
            {
                fakeProcess.Kill();
            }

            Directory.Delete(work, recursive: true);
        }
    }

    private static int Option(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : fallback;
    }
}

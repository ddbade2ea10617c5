using System.Diagnostics;
using System.Globalization;
using TeleGuard.Backup.Destinations.GitHub;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Benchmarks;

/// <summary>
/// <c>github-sink [--mb 1024]</c>: the GitHub sink alone in this process (artifact store on disk, so no MongoDB export
/// is needed) committing and pushing a synthetic snapshot of that size (random text: it barely compresses) to the git
/// server; this process's peak resident memory. For a 1 GiB snapshot where the MongoDB stand-in cannot serve one.
/// </summary>
public static class GitHubSinkBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var megabytes = args.Length >= 2 && args[0] == "--mb" ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1024;
        var git = GitServer.FromEnvironment();
        var (repository, _) = git.CreateRepository();
        using var work = new TemporaryDirectory();
        var settings = new Dictionary<string, string?>
        {
            ["MONGODB_URI"] = TestServices.WithDatabase(Environment.GetEnvironmentVariable("MONGODB_URI") ?? "mongodb://127.0.0.1:27017/", "bench_github"),
            ["REDIS_URL"] = Environment.GetEnvironmentVariable("REDIS_URL") ?? "redis://127.0.0.1:6379",
            ["REDIS_KEY_PREFIX"] = TestServices.UniqueName("bench"),
            ["SNAPSHOT_DIR"] = work.Path,
            ["ARTIFACT_STORE"] = "directory",
            ["ARTIFACT_DIR"] = Path.Combine(work.Path, "artifacts"),
            ["GITHUB_REPO"] = repository.ToString(),
            ["GITHUB_TOKEN"] = git.Token,
            ["LOG_LEVEL"] = "Warning",
        };
        var builder = TestHosts.CreateBuilder(settings);
        builder.AddBackupDefaults();
        builder.AddGitHubSinkService();
        builder.AddBackupBus();
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var id = TeleGuard.Backup.SnapshotFormat.SnapshotIds.FromTime(DateTimeOffset.UtcNow);
            var stopwatch = Stopwatch.StartNew();
            await SyntheticSnapshots.AnnounceAsync(host.Services, work.Path, id, megabytes * 1024L * 1024);
            var generated = stopwatch.Elapsed.TotalSeconds;
            var meta = host.Services.GetRequiredService<BackupsMetaStore>();
            var record = await TestHosts.EventuallyAsync(async () => await meta.GetAsync(id, CancellationToken.None) is { } r
                && r.Sinks.GetValueOrDefault(BackupSinks.GitHub)?.Status is SinkStatus.Succeeded or SinkStatus.Failed ? r : null, TimeSpan.FromMinutes(30), "the GitHub copy");
            var outcome = record.Sinks[BackupSinks.GitHub];
            var seconds = (outcome.At!.Value - outcome.StartedAt!.Value).TotalSeconds;
            Console.WriteLine($"GitHub sink: {megabytes} MiB snapshot {outcome.Status} in {seconds:F1} s (generation {generated:F1} s before); "
                              + $"peak resident of this process {BenchmarkResult.PeakResidentMiB():F0} MiB {outcome.Error}");
            BenchmarkResult.Report("githubsink.mib", megabytes);
            BenchmarkResult.Report("githubsink.seconds", seconds);
            BenchmarkResult.Report("githubsink.peak_mib", BenchmarkResult.PeakResidentMiB());
            return outcome.Status == SinkStatus.Succeeded ? 0 : 1;
        }
        finally
        {
            await host.StopAsync();
        }
    }
}

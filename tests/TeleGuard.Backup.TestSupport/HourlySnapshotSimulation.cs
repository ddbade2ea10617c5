using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.TestSupport;

/// <summary>
/// Hours of a deployment in fast motion, to measure what stays on the local disk (<c>SNAPSHOT_DIR</c>): a source
/// database, a repository on the git server (private and public branches), and the services in one host on an
/// in-memory bus with a <see cref="SimulatedClock"/>. Each hour some documents change, the hour's slot is requested and
/// every destination copies it; every <see cref="SimulationSettings.CleanupEveryHours"/> a cleanup runs each
/// destination's retention (compaction of the private branch). After each hour the folder's size is measured, and its
/// peak is sampled while the hour runs.
/// </summary>
public static class HourlySnapshotSimulation
{
    private static readonly string[] Words =
        ["backup", "telegram", "guard", "channel", "account", "session", "token", "limit", "daily", "notify", "user", "admin",
         "chat", "message", "forward", "filter", "spam", "allow", "deny", "group", "member", "owner", "settings", "language"];

    /// <param name="addServices">Adds the backup defaults, the services and the bus to the host (the clock is registered before).</param>
    /// <param name="publicCopyBytes">The size of a snapshot's public copy, read from its record (the public destination's location).</param>
    public static async Task<IReadOnlyList<SimulatedHour>> RunAsync(SimulationSettings simulation, Action<HostApplicationBuilder> addServices,
        Func<BackupRecord, long> publicCopyBytes, Action<SimulatedHour>? onHour = null)
    {
        var git = GitServer.FromEnvironment();
        var (repository, _) = git.CreateRepository();
        var mongoUri = await TestServices.MongoUriAsync();
        var source = new MongoClient(mongoUri).GetDatabase(MongoUrl.Create(mongoUri).DatabaseName);
        await SeedAsync(source, simulation);
        var clock = new SimulatedClock();
        var builder = TestHosts.CreateBuilder(new Dictionary<string, string?>
        {
            ["MONGODB_URI"] = mongoUri,
            ["REDIS_URL"] = await TestServices.RedisUrlAsync(),
            ["REDIS_KEY_PREFIX"] = TestServices.UniqueName("disk"),
            ["SNAPSHOT_DIR"] = simulation.SnapshotDirectory,
            ["GITHUB_REPO"] = repository.ToString(),
            ["GITHUB_PUBLIC_REPO"] = repository.ToString(),
            ["GITHUB_TOKEN"] = git.Token,
            ["ENCRYPTION_KEY"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
            ["RETENTION_HOURS"] = simulation.CleanupEveryHours.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["LOG_LEVEL"] = "Warning",
        });
        builder.Services.AddSingleton<TimeProvider>(clock);
        addServices(builder);
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            return await RunHoursAsync(host, clock, source, simulation, publicCopyBytes, onHour);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    private static async Task SeedAsync(IMongoDatabase source, SimulationSettings simulation)
    {
        var random = new Random(48);
        var items = source.GetCollection<BsonDocument>("items");
        for (var start = 0; start < simulation.Documents; start += 1000)
        {
            await items.InsertManyAsync(Enumerable.Range(start, Math.Min(1000, simulation.Documents - start))
                .Select(i => Document(i, simulation.DocumentBytes, random, version: 0)));
        }
    }

    private static async Task<IReadOnlyList<SimulatedHour>> RunHoursAsync(
        IHost host, SimulatedClock clock, IMongoDatabase source, SimulationSettings simulation, Func<BackupRecord, long> publicCopyBytes,
        Action<SimulatedHour>? onHour)
    {
        var bus = host.Services.GetRequiredService<IBus>();
        var meta = host.Services.GetRequiredService<BackupsMetaStore>();
        var items = source.GetCollection<BsonDocument>("items");
        var random = new Random(49);
        var now = DateTimeOffset.UtcNow;
        var start = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero).AddHours(-simulation.Hours - 1);
        var figures = new List<SimulatedHour>();
        for (var hour = 1; hour <= simulation.Hours; hour++)
        {
            for (var k = 0; k < simulation.Documents * simulation.Churn; k++)
            {
                var i = random.Next(simulation.Documents);
                await items.ReplaceOneAsync(new BsonDocument("_id", i), Document(i, simulation.DocumentBytes, random, hour));
            }

            var slot = start.AddHours(hour);
            clock.Set(slot.AddSeconds(5));
            using var sampler = new PeakSampler(simulation.SnapshotDirectory);
            var id = SnapshotIds.FromTime(slot);
            await bus.Publish(new SnapshotRequested(id, clock.GetUtcNow(), "schedule"));
            var record = await TestHosts.EventuallyAsync(async () =>
                await meta.GetAsync(id, CancellationToken.None) is { } r && BackupStatus.IsFinal(r.Status) ? r : null, TimeSpan.FromMinutes(5), $"snapshot {id}");
            if (record.Status != BackupStatus.Complete)
            {
                throw new InvalidOperationException($"Snapshot {id} ended {record.Status}: {record.ToBsonDocument()}");
            }

            var cleanup = hour % simulation.CleanupEveryHours == 0;
            if (cleanup)
            {
                clock.Set(slot.AddMinutes(5));
                var requested = clock.GetUtcNow().UtcDateTime;
                await bus.Publish(new CleanupRequested(SnapshotIds.FromTime(slot.AddMinutes(5)), clock.GetUtcNow(), "schedule"));
                foreach (var sink in new[] { BackupSinks.GitHub, BackupSinks.Public })
                {
                    await TestHosts.EventuallyAsync(async () =>
                        (await meta.FindLatestCleanupAsync(sink, CancellationToken.None))?.Sinks[sink].Cleanup is { Status: CleanupRecord.Done } done
                        && done.At >= requested ? done : null, TimeSpan.FromMinutes(5), $"the {sink} cleanup after hour {hour}");
                }
            }

            var figure = new SimulatedHour(hour, id, record.Manifest!.Bytes, publicCopyBytes(record), DirectorySize(simulation.SnapshotDirectory), sampler.Stop(), cleanup);
            figures.Add(figure);
            onHour?.Invoke(figure);
        }

        return figures;
    }

    public static long DirectorySize(string path) =>
        Directory.Exists(path)
            ? new DirectoryInfo(path).EnumerateFiles("*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true })
                .Sum(f => TryLength(f))
            : 0;

    private static long TryLength(FileInfo file)
    {
        try
        {
            return file.Length;
        }
        catch (FileNotFoundException)
        {
            return 0; // deleted while the folder was walked
        }
    }

    private static BsonDocument Document(int i, int bytes, Random random, int version)
    {
        var text = new System.Text.StringBuilder();
        while (text.Length < bytes)
        {
            text.Append(Words[random.Next(Words.Length)]).Append(' ').Append(random.Next(1000)).Append(' ');
        }

        return new BsonDocument { { "_id", i }, { "version", version }, { "owner", $"user_{i:x8}" }, { "text", text.ToString() } };
    }

    /// <summary>Samples a folder's size every 100 ms until stopped; returns the largest seen.</summary>
    private sealed class PeakSampler : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task<long> _sampling;

        public PeakSampler(string path) => _sampling = Task.Run(async () =>
        {
            long peak = 0;
            while (!_stop.IsCancellationRequested)
            {
                peak = Math.Max(peak, DirectorySize(path));
                await Task.Delay(100);
            }

            return Math.Max(peak, DirectorySize(path));
        });

        public long Stop()
        {
            _stop.Cancel();
            return _sampling.GetAwaiter().GetResult();
        }

        public void Dispose()
        {
            _stop.Cancel();
            _stop.Dispose();
        }
    }
}

/// <param name="SnapshotDirectory">SNAPSHOT_DIR of the simulated deployment (measured).</param>
/// <param name="Churn">Fraction of the documents rewritten each hour.</param>
public sealed record SimulationSettings(string SnapshotDirectory, int Hours, int CleanupEveryHours, double Churn, int Documents, int DocumentBytes);

/// <param name="SnapshotBytes">The snapshot's JSON (its manifest's bytes, about its tar before compression): "one snapshot".</param>
/// <param name="PublicBytes">Its encrypted, compressed public copy.</param>
/// <param name="SnapshotDirBytes">SNAPSHOT_DIR once the hour's copies (and cleanup) were done.</param>
/// <param name="PeakBytes">The largest SNAPSHOT_DIR seen while the hour ran.</param>
public sealed record SimulatedHour(int Hour, string SnapshotId, long SnapshotBytes, long PublicBytes, long SnapshotDirBytes, long PeakBytes, bool Cleanup);

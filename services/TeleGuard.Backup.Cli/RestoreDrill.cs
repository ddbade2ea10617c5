using Cronos;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Configuration;
using TeleGuard.Backup.Encryption;
using TeleGuard.Backup.GitHub;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.Telegram;

namespace TeleGuard.Backup.Cli;

/// <summary>
/// A restore drill: fetches the latest snapshot from every configured destination and the store, checks every file
/// against the manifest (what <c>verify</c> does), and records the result on the snapshot in backups_meta
/// (<c>drills.&lt;destination&gt;</c>). A failure is logged as an error and recorded on the newest snapshot that
/// destination claims to hold.
/// </summary>
public sealed class RestoreDrill(IConfiguration configuration, BackupsMetaStore meta, IArtifactStore store, ILogger<RestoreDrill> logger)
{
    public async Task<IReadOnlyList<(string Destination, string? SnapshotId, bool Ok, string? Error)>> RunAsync(CancellationToken cancellationToken)
    {
        var results = new List<(string, string?, bool, string?)>();
        var fetcher = new SnapshotFetcher(configuration, meta, store);
        foreach (var destination in ConfiguredDestinations())
        {
            var folder = Path.Combine(Path.GetTempPath(), $"teleguard-drill-{Guid.NewGuid():N}");
            try
            {
                var manifest = await fetcher.FetchAsync(destination, "latest", folder, cancellationToken);
                await TeleGuard.Backup.Snapshots.SnapshotContent.VerifyAsync(folder, manifest, null, cancellationToken);
                await meta.RecordDrillAsync(manifest.SnapshotId, destination, ok: true, error: null, cancellationToken);
                logger.LogInformation("Restore drill: {Destination} holds snapshot {SnapshotId}, every file verified and every document decoded", destination, manifest.SnapshotId);
                results.Add((destination, manifest.SnapshotId, true, null));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                var error = ErrorText.Describe(e);
                var claimed = destination == "store"
                    ? (await meta.ListRecentAsync(1, cancellationToken)).FirstOrDefault()
                    : await meta.FindLatestSucceededAsync(destination, cancellationToken);
                if (claimed is not null)
                {
                    await meta.RecordDrillAsync(claimed.Id, destination, ok: false, error, cancellationToken);
                }

                logger.LogError("Restore drill: {Destination} failed: {Error}", destination, error);
                results.Add((destination, claimed?.Id, false, error));
            }
            finally
            {
                foreach (var path in new[] { folder, folder + ".git" })
                {
                    if (Directory.Exists(path))
                    {
                        Directory.Delete(path, recursive: true);
                    }
                }
            }
        }

        return results;
    }

    private IEnumerable<string> ConfiguredDestinations()
    {
        if (Enabled<GitHubSinkOptions>(o => o.Enabled))
        {
            yield return "github";
        }

        if (Enabled<EncryptionSinkOptions>(o => o.Enabled))
        {
            yield return "public";
        }

        if (Enabled<TelegramSinkOptions>(o => o.Enabled))
        {
            yield return "telegram";
        }

        yield return "store";
    }

    private bool Enabled<T>(Func<T, bool> enabled) where T : EnvironmentOptions, new()
    {
        var options = new T();
        options.Load(configuration);
        return options.ConfigurationErrors.Count == 0 && enabled(options);
    }
}

/// <summary><c>RESTORE_DRILL_SCHEDULE</c>: cron (UTC) of the restore drill; unset (the default) turns it off.</summary>
public sealed class RestoreDrillOptions : EnvironmentOptions
{
    public CronExpression? Schedule { get; private set; }

    protected override void Read(SettingsReader settings)
    {
        var text = settings.Optional("RESTORE_DRILL_SCHEDULE");
        if (text is null)
        {
            return;
        }

        var format = text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length == 6 ? CronFormat.IncludeSeconds : CronFormat.Standard;
        if (CronExpression.TryParse(text, format, out var schedule))
        {
            Schedule = schedule;
        }
        else
        {
            settings.Fail("RESTORE_DRILL_SCHEDULE", "is not a valid cron expression (five fields, UTC)");
        }
    }
}

/// <summary>Runs the restore drill on <c>RESTORE_DRILL_SCHEDULE</c> in the <c>run</c> host.</summary>
public sealed class RestoreDrillSchedule(RestoreDrill drill, IOptions<RestoreDrillOptions> options, TimeProvider time, ILogger<RestoreDrillSchedule> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Value.Schedule is not { } schedule)
        {
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            var next = schedule.GetNextOccurrence(time.GetUtcNow(), TimeZoneInfo.Utc);
            if (next is null)
            {
                return;
            }

            await Task.Delay(next.Value - time.GetUtcNow(), time, stoppingToken);
            try
            {
                await drill.RunAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogError("Restore drill could not run: {Error}", ErrorText.Describe(e));
            }
        }
    }
}

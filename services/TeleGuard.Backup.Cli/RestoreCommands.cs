using System.CommandLine;
using Microsoft.Extensions.Logging.Abstractions;
using MongoDB.Driver;
using TeleGuard.Backup.Destinations;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Cli;

/// <summary>
/// <c>restore</c> and <c>verify</c>. Every file is checked against the manifest's SHA-256 before anything is written;
/// a restore then checks the target, writes, and verifies the result by exporting it and comparing content hashes.
/// Sources: <c>github</c> (the private repository), <c>public</c> (the encrypted branch), <c>telegram</c> (the parts
/// recorded in backups_meta), <c>store</c> (the artifact store of MONGODB_URI) and <c>file</c> (an artifact, .tar or gzip-compressed, or a
/// snapshot folder).
/// </summary>
public static class RestoreCommands
{
    public static Command CreateRestore()
    {
        var command = new CommandWithExamples("restore",
            "Check every file of a snapshot, restore it into the target database, and verify the result's content hashes; with --to-time, then replay the recorded changes up to that time. Nothing of the target changes unless every collection was read back identical and every change applied.",
            "teleguard-backup restore --from github --to-uri mongodb://localhost:27017/restored",
            "teleguard-backup restore --from store --snapshot 20250101T030000Z --to-uri mongodb://localhost:27017 --db app --collections users,orders --drop",
            "teleguard-backup restore --from file --path ./snapshot.tar --to-uri mongodb://localhost:27017/app --dry-run",
            "teleguard-backup restore --from store --to-time 2026-11-30T13:42:10Z --to-uri mongodb://localhost:27017/app --drop");
        var readSource = SnapshotSource.AddOptions(command);
        var toUri = new Option<string>("--to-uri") { Description = "the target MongoDB connection string; its path names the database unless --db does", HelpName = "URI", Required = true };
        var database = new Option<string?>("--db") { Description = "the target database (instead of the one in --to-uri)", HelpName = "NAME" };
        var collections = new Option<string[]?>("--collections")
        {
            Description = "restore only these collections (comma-separated)",
            HelpName = "a,b",
            CustomParser = result => result.Tokens.SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray(),
        };
        var drop = new Option<bool>("--drop") { Description = "replace collections that already exist in the target (without it the restore refuses them)" };
        var dryRun = new Option<bool>("--dry-run") { Description = "fetch and check everything and say what would be restored; write nothing" };
        var parallel = CommandOptions.Number("--parallel-collections", "how many collections are written at the same time (default 4)", 1, 64, 4);
        command.Options.Add(toUri);
        command.Options.Add(database);
        command.Options.Add(collections);
        command.Options.Add(drop);
        command.Options.Add(dryRun);
        command.Options.Add(parallel);
        command.SetAction(result => RestoreAsync(readSource(result), result.GetRequiredValue(toUri), result.GetValue(database),
            result.GetValue(collections), result.GetValue(drop), result.GetValue(dryRun), (int)result.GetValue(parallel)));
        return command;
    }

    public static Command CreateVerify()
    {
        var command = new CommandWithExamples("verify",
            "The same checks as restore, writing nothing: every file against its SHA-256 and every document decoded (with --to-time also every increment up to that time and the chain); exit 0 only when everything matches.",
            "teleguard-backup verify --from public",
            "teleguard-backup verify --from telegram --snapshot 20250101T030000Z",
            "teleguard-backup verify --from file --path ./snapshot.tar",
            "teleguard-backup verify --from store --to-time latest");
        var readSource = SnapshotSource.AddOptions(command);
        command.SetAction(result => VerifyAsync(readSource(result)));
        return command;
    }

    public static async Task<int> RestoreAsync(SnapshotSource source, string toUri, string? databaseOverride, string[]? collections, bool drop, bool dryRun,
        int parallelCollections = 4)
    {
        MongoUrl target;
        try
        {
            target = MongoUrl.Create(toUri);
        }
        catch (Exception)
        {
            throw new UsageException("--to-uri is not a valid MongoDB connection string");
        }

        var databaseName = databaseOverride ?? target.DatabaseName ?? throw new UsageException("name the target database in --to-uri's path or with --db");
        using var cancellation = new OperatorCancellation();
        if (source.ToTime is { } toTime)
        {
            return await WithFetchedPointInTimeAsync(source, toTime, async copy =>
            {
                var pointInTime = copy.PointInTime;
                var time = ClusterTimestamps.Describe(pointInTime.Target);
                var result = await OperatorProgress.RunAsync($"restoring snapshot {copy.Snapshot.SnapshotId} and {pointInTime.Increments.Count} increments into {databaseName}, as of {time}", report =>
                    new SnapshotRestorer(NullLogger.Instance).RestoreToTimeAsync(copy.SnapshotFolder, copy.Snapshot, pointInTime, new MongoClient(target), databaseName,
                        new RestoreOptions { Collections = collections, Drop = drop, DryRun = dryRun, ParallelCollections = parallelCollections }, report, cancellation.Token));
                if (dryRun)
                {
                    var refused = result.Snapshot.Where(r => r.Action == SnapshotRestorer.Refused).Select(r => r.Name).ToList();
                    Console.WriteLine($"dry run: snapshot {copy.Snapshot.SnapshotId} and {pointInTime.Increments.Count} increments would restore {databaseName} as of {time}; nothing was written"
                        + (refused.Count > 0 ? $"; without --drop the restore would refuse: {string.Join(", ", refused)}" : ""));
                    return refused.Count > 0 ? 1 : 0;
                }

                Console.WriteLine($"restored {databaseName} as of {time}: snapshot {copy.Snapshot.SnapshotId}, then {result.Replay?.Applied ?? 0} events of {pointInTime.Increments.Count} increments; "
                    + $"{result.Collections.Count} collections"
                    + (result.Removed.Count > 0 ? $", removed {string.Join(", ", result.Removed)} (not there at that time)" : "")
                    + "; the snapshot was read back identical before the events were replayed");
                return 0;
            }, cancellation.Token);
        }

        return await WithFetchedSnapshotAsync(source, async (folder, manifest) =>
        {
            var restorer = new SnapshotRestorer(NullLogger.Instance);
            var restored = await OperatorProgress.RunAsync($"restoring snapshot {manifest.SnapshotId} into {databaseName}", report =>
                restorer.RestoreAsync(folder, manifest, new MongoClient(target), databaseName,
                    new RestoreOptions { Collections = collections, Drop = drop, DryRun = dryRun, ParallelCollections = parallelCollections }, report, cancellation.Token));
            if (dryRun)
            {
                var refused = restored.Where(r => r.Action == SnapshotRestorer.Refused).Select(r => r.Name).ToList();
                Console.WriteLine($"dry run: {restored.Count} collections, {restored.Sum(r => r.Documents)} documents of snapshot {manifest.SnapshotId} would be restored into {databaseName}; nothing was written"
                    + (refused.Count > 0 ? $"; without --drop the restore would refuse: {string.Join(", ", refused)}" : ""));
                return refused.Count > 0 ? 1 : 0;
            }

            Console.WriteLine($"restored snapshot {manifest.SnapshotId} into {databaseName}: {restored.Count} collections, {restored.Sum(r => r.Documents)} documents; every collection was read back identical to the snapshot before it was swapped in");
            return 0;
        }, cancellation.Token);
    }

    public static async Task<int> VerifyAsync(SnapshotSource source)
    {
        using var cancellation = new OperatorCancellation();
        if (source.ToTime is { } toTime)
        {
            return await WithFetchedPointInTimeAsync(source, toTime, async copy =>
            {
                await DecodeEveryDocumentAsync(copy.SnapshotFolder, copy.Snapshot, cancellation.Token);
                var increments = copy.PointInTime.Increments;
                Console.WriteLine($"as of {ClusterTimestamps.Describe(copy.PointInTime.Target)}: snapshot {copy.Snapshot.SnapshotId} ({copy.Snapshot.TotalDocuments} documents) and {increments.Count} increments "
                    + $"({increments.Sum(i => i.Manifest.Events)} events recorded); every file matches its SHA-256, every document and event decodes, and the chain is unbroken");
                return 0;
            }, cancellation.Token);
        }

        return await WithFetchedSnapshotAsync(source, async (folder, manifest) =>
        {
            await DecodeEveryDocumentAsync(folder, manifest, cancellation.Token);
            Console.WriteLine($"snapshot {manifest.SnapshotId}: {manifest.Collections.Count} collections, {manifest.TotalDocuments} documents; every file matches its SHA-256 and every document decodes to the exported BSON"
                + (manifest.Skipped.Count > 0 ? $"; NOT in the snapshot: {string.Join(", ", manifest.Skipped.Select(s => $"{s.Name} ({s.Reason})"))}" : ""));
            return 0;
        }, cancellation.Token);
    }

    private static Task<long> DecodeEveryDocumentAsync(string folder, SnapshotManifest manifest, CancellationToken cancellationToken) =>
        OperatorProgress.RunAsync($"decoding every document of snapshot {manifest.SnapshotId}", async report =>
        {
            await SnapshotContent.VerifyAsync(folder, manifest, report, cancellationToken);
            return manifest.TotalDocuments;
        });

    // A snapshot and the increments after it up to the time, fetched and checked by a destination that holds increments.
    private static async Task<int> WithFetchedPointInTimeAsync(SnapshotSource source, PointInTimeTarget toTime, Func<PointInTimeCopy, Task<int>> use, CancellationToken cancellationToken)
    {
        var work = Path.Combine(Path.GetTempPath(), $"teleguard-restore-{Guid.NewGuid():N}");
        try
        {
            var copy = await WithDestinationAsync(source, needsHistory: true,
                destination => ((IPointInTimeSource)destination).FetchToTimeAsync(toTime.Time, work, cancellationToken));
            if (copy is null)
            {
                return ConfigurationFailure.ExitCode;
            }

            Console.WriteLine($"snapshot {copy.Snapshot.SnapshotId} and {copy.PointInTime.Increments.Count} increments up to {ClusterTimestamps.Describe(copy.PointInTime.Target)} fetched from {source.From} and verified");
            return await use(copy);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw new CommandFailedException("cancelled (Ctrl+C or SIGTERM); nothing of the target was changed");
        }
        finally
        {
            if (Directory.Exists(work))
            {
                Directory.Delete(work, recursive: true);
            }
        }
    }

    private static async Task<int> WithFetchedSnapshotAsync(SnapshotSource source, Func<string, SnapshotManifest, Task<int>> use, CancellationToken cancellationToken)
    {
        var work = Path.Combine(Path.GetTempPath(), $"teleguard-restore-{Guid.NewGuid():N}");
        try
        {
            SnapshotManifest manifest;
            string folder;
            if (source.From == "file" && Directory.Exists(source.Path))
            {
                folder = source.Path!;
                manifest = await SnapshotArchive.VerifyDirectoryAsync(folder, cancellationToken);
            }
            else if (source.From == "file")
            {
                folder = work;
                await using var file = File.OpenRead(source.Path!);
                manifest = await SnapshotArchive.ExtractAsync(file, folder, cancellationToken);
            }
            else
            {
                folder = work;
                var fetched = await FetchFromDestinationAsync(source, folder, cancellationToken);
                if (fetched is null)
                {
                    return ConfigurationFailure.ExitCode;
                }

                manifest = fetched;
            }

            Console.WriteLine($"snapshot {manifest.SnapshotId} fetched from {source.From} and verified");
            return await use(folder, manifest);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw new CommandFailedException("cancelled (Ctrl+C or SIGTERM); nothing of the target was changed");
        }
        finally
        {
            if (Directory.Exists(work))
            {
                Directory.Delete(work, recursive: true);
            }
        }
    }

    private static Task<SnapshotManifest?> FetchFromDestinationAsync(SnapshotSource source, string folder, CancellationToken cancellationToken) =>
        WithDestinationAsync(source, needsHistory: false, destination => destination.FetchAsync(source.Snapshot, folder, cancellationToken));

    // A destination, found by name among those registered; null when the configuration it needs is invalid (reported).
    // needsHistory: it must hold increments (IPointInTimeSource).
    private static async Task<T?> WithDestinationAsync<T>(SnapshotSource source, bool needsHistory, Func<IBackupDestination, Task<T>> use)
        where T : class
    {
        var builder = OneShotHost.CreateBuilder();
        builder.Services.AddBackupDestinations();
        using var host = builder.Build();
        var destinations = host.Services.GetServices<IBackupDestination>().ToList();
        var destination = destinations.Find(source.From)
            ?? throw new UsageException($"--from must be {string.Join(", ", destinations.Select(d => d.Name))} or file");
        if (needsHistory && destination is not IPointInTimeSource)
        {
            var holding = destinations.Where(d => d is IPointInTimeSource).Select(d => d.Name);
            throw new UsageException($"--to-time needs a destination that holds increments ({string.Join(", ", holding)}); {destination.Name} holds whole snapshots only (use --snapshot with it)");
        }

        if (destination.ReadsBackupsMeta)
        {
            // Its copies are found through backups_meta: MONGODB_URI and the rest of the services' configuration.
            if (ConfigurationFailure.Check(host.Services) is not null)
            {
                return null;
            }

            await BackupDatabase.EnsureReachableAsync(host.Services);
        }

        if (!destination.IsEnabled)
        {
            throw new InvalidOperationException($"--from {destination.Name} needs {destination.EnabledBy}.");
        }

        return await use(destination);
    }
}

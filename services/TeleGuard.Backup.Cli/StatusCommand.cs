using System.CommandLine;
using TeleGuard.Backup.Destinations;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Cli;

/// <summary><c>status</c>: recent snapshots × destinations from backups_meta, and the age of the newest complete one.</summary>
public static class StatusCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "print the snapshots, the newest complete one and the last cleanups as JSON" };
        var limit = CommandOptions.Number("--limit", "how many recent snapshots to list (default 24)", 1, 10_000, 24);
        var maxAgeHours = CommandOptions.OptionalNumber("--max-age-hours",
            "exit 3 when the newest complete snapshot is older than this many hours, or there is none (for monitoring)", 0.01, 24 * 365);
        var command = new CommandWithExamples("status",
            "Recent snapshots and each destination's outcome, from backups_meta.",
            "teleguard-backup status",
            "teleguard-backup status --json --limit 5",
            "teleguard-backup status --max-age-hours 26 || echo 'no recent backup'")
        {
            json,
            limit,
            maxAgeHours,
        };
        command.SetAction(result => ExecuteAsync(result.GetValue(json), (int)result.GetValue(limit), result.GetValue(maxAgeHours)));
        return command;
    }

    public static async Task<int> ExecuteAsync(bool json, int limit, double? maxAgeHours)
    {
        var builder = OneShotHost.CreateBuilder();
        builder.Services.AddBackupDestinations();
        using var host = builder.Build();
        if (ConfigurationFailure.Check(host.Services) is { } exitCode)
        {
            return exitCode;
        }

        // Nothing is started (no background service): status only reads backups_meta, and Redis when MongoDB is down.
        var meta = host.Services.GetRequiredService<BackupsMetaStore>();
        var destinations = host.Services.GetServices<IBackupDestination>().ToList();
        List<BackupRecord> records;
        BackupRecord? latestComplete;
        List<(string Sink, CleanupRecord Cleanup)> cleanups = [];
        PointInTimeStatus pointInTime;
        try
        {
            records = await meta.ListRecentAsync(limit, CancellationToken.None);
            latestComplete = await meta.FindLatestCompleteAsync(CancellationToken.None);
            pointInTime = await PointInTimeStatus.ReadAsync(meta, host.Services.GetRequiredService<IncrementsStore>(),
                host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<MongoOptions>>().Value.DatabaseName, CancellationToken.None);
            foreach (var sink in BackupSinks.All)
            {
                if ((await meta.FindLatestCleanupAsync(sink, CancellationToken.None))?.Sinks[sink].Cleanup is { } cleanup)
                {
                    cleanups.Add((sink, cleanup));
                }
            }
        }
        catch (Exception e) when (MongoFaults.IsUnreachable(e))
        {
            PrintPending(await meta.ListPendingAsync(CancellationToken.None));
            throw BackupDatabase.Unreachable(host.Services, e);
        }

        // "Latest" is the newest data, and its age is that of the data (a catch-up snapshot's id is its earlier slot).
        var age = latestComplete is null ? (TimeSpan?)null : DateTimeOffset.UtcNow - latestComplete.DataTime;

        if (json)
        {
            Console.WriteLine(StatusJson.Render(records, latestComplete?.Id, age, cleanups, destinations, pointInTime));
        }
        else
        {
            PrintTable(records);
            if (records.Count > 0)
            {
                Console.WriteLine();
                PrintOutcome(records[0], destinations); // the newest snapshot in detail: when and where each copy is
            }

            Console.WriteLine(latestComplete is null
                ? "No complete snapshot yet."
                : $"Last complete snapshot: {latestComplete.Id} (data read {FormatAge(age!.Value)} ago)");
            foreach (var (sink, cleanup) in cleanups)
            {
                var why = cleanup.Reason is { } reason ? $": {reason}" : "";
                Console.WriteLine($"Last {sink} cleanup: {cleanup.Status} at {cleanup.At:yyyy-MM-ddTHH:mm:ssZ}{why}");
            }

            pointInTime.Print();
        }

        if (maxAgeHours is { } hours && (age is null || age.Value > TimeSpan.FromHours(hours)))
        {
            Console.Error.WriteLine($"ALERT: no complete snapshot in the last {hours} hours.");
            return 3;
        }

        return 0;
    }

    // MongoDB is down (the error line says so on stderr): what the sinks recorded meanwhile waits in Redis. Those
    // snapshots count as degraded until their records are back in backups_meta.
    private static void PrintPending(IReadOnlyList<PendingMetaWrite> pending)
    {
        Console.WriteLine("backups_meta is unreachable (MongoDB does not answer).");
        if (pending.Count == 0)
        {
            Console.WriteLine("No sink results are waiting in Redis.");
            return;
        }

        Console.WriteLine($"{pending.Count} sink results are waiting in Redis to be written to backups_meta when MongoDB is back:");
        foreach (var snapshot in pending.GroupBy(p => p.SnapshotId).OrderByDescending(g => g.Key))
        {
            Console.WriteLine($"Snapshot {snapshot.Key}: degraded (backups_meta unreachable)");
            foreach (var sink in snapshot.GroupBy(p => p.Sink).OrderBy(g => g.Key))
            {
                var last = sink.LastOrDefault(p => p.Kind == PendingMetaWrite.Outcome) ?? sink.Last();
                var status = last.Kind == PendingMetaWrite.Outcome ? last.Status : SinkStatus.Running;
                var why = last.Error is { } error ? $" ({error})" : "";
                Console.WriteLine($"  {sink.Key}: {status} at {last.At:yyyy-MM-ddTHH:mm:ssZ}{why} (not yet in backups_meta)");
            }
        }
    }

    private static void PrintTable(List<BackupRecord> records)
    {
        if (records.Count == 0)
        {
            Console.WriteLine("No snapshots recorded in backups_meta.");
            return;
        }

        var sinks = records.SelectMany(r => r.Sinks.Keys).Concat(BackupSinks.All).Distinct().Order().ToList();
        var header = $"{"SNAPSHOT",-17} {"STATUS",-10} {"DOCUMENTS",10} {"BYTES",14}" + string.Concat(sinks.Select(s => $" {s.ToUpperInvariant(),-10}"));
        Console.WriteLine(header);
        foreach (var record in records)
        {
            var line = $"{record.Id,-17} {record.Status,-10} {record.Manifest?.Documents.ToString() ?? "-",10} {record.Manifest?.Bytes.ToString() ?? "-",14}"
                       + string.Concat(sinks.Select(s => $" {record.Sinks.GetValueOrDefault(s)?.Status ?? "-",-10}"));
            Console.WriteLine(line);
        }
    }

    /// <summary>The outcome of one snapshot, destination by destination (used by <c>snapshot --wait</c>).</summary>
    public static void PrintOutcome(BackupRecord record, IReadOnlyList<IBackupDestination> destinations)
    {
        Console.WriteLine($"Snapshot {record.Id}: {record.Status}");
        if (record.Manifest is { } manifest)
        {
            Console.WriteLine($"  export: {manifest.Collections.Count} collections, {manifest.Documents} documents, {manifest.Bytes} bytes, consistency {manifest.Consistency}{(manifest.ConsistencyReason is { } why ? $" ({why})" : "")}");
            foreach (var skipped in manifest.Skipped)
            {
                Console.WriteLine($"  NOT in this snapshot: {skipped.Name} ({skipped.Type}): {skipped.Reason}");
            }
        }

        if (record.Artifact is { } artifact)
        {
            Console.WriteLine($"  artifact: {artifact.Location} ({artifact.Size} bytes, sha256 {artifact.Sha256}){(artifact.DeletedAt is { } deleted ? $", removed by retention {deleted:yyyy-MM-ddTHH:mm:ssZ}" : "")}");
        }

        if (record.Error is { } error)
        {
            Console.WriteLine($"  error: {error}");
        }

        var sinks = BackupSinks.All.Concat(record.Sinks.Keys).Distinct().Order().ToList();
        if (sinks.Count == 0)
        {
            Console.WriteLine("  destinations: none configured");
        }

        foreach (var sink in sinks)
        {
            var outcome = record.Sinks.GetValueOrDefault(sink);
            var where = outcome?.LocationDocument is not null ? ": " + DescribeCopy(destinations, sink, outcome) : "";
            var why = outcome?.Error is { } e ? $" ({e})" : "";
            var when = outcome?.At is { } at ? $" at {at:yyyy-MM-ddTHH:mm:ssZ}" : "";
            var removed = outcome?.RemovedAt is { } gone
                ? $" (removed by retention {gone:yyyy-MM-ddTHH:mm:ssZ}{(DescribeRemoval(destinations, sink, outcome) is { } left ? "; " + left : "")})"
                : "";
            Console.WriteLine($"  {sink}: {outcome?.Status ?? "pending"}{when}{where}{why}{removed}");
        }
    }

    /// <summary>
    /// Where a copy is, as the destination that wrote it says; "recorded" for a destination this version does not know,
    /// or a location it cannot read (written by another version).
    /// </summary>
    public static string DescribeCopy(IReadOnlyList<IBackupDestination> destinations, string name, SinkRecord copy) =>
        Readable(() => destinations.Find(name)?.DescribeCopy(copy)) ?? "recorded";

    // What the destination adds to "removed by retention".
    private static string? DescribeRemoval(IReadOnlyList<IBackupDestination> destinations, string name, SinkRecord copy) =>
        Readable(() => destinations.Find(name)?.DescribeRemoval(copy));

    // What a destination says of its record; null when it cannot read it (written by another version).
    private static string? Readable(Func<string?> describe)
    {
        try
        {
            return describe();
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static string FormatAge(TimeSpan age) =>
        age.TotalHours >= 1 ? $"{(int)age.TotalHours} h {age.Minutes} min" : $"{(int)age.TotalMinutes} min";
}

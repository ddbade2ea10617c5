using System.CommandLine;
using MassTransit;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Destinations;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Cli;

/// <summary>
/// <c>snapshot</c>: requests a snapshot now. With RabbitMQ the running services do the work and <c>--wait</c> follows
/// it in backups_meta; without RabbitMQ this process hosts the pipeline (no scheduler) and always waits.
/// </summary>
public static class SnapshotCommand
{
    public static Command Create()
    {
        var wait = CommandOptions.Wait("print the snapshot's progress and its outcome per destination; exit 0 when complete, 1 when it failed, 3 on timeout");
        var timeout = CommandOptions.TimeoutSeconds(3600);
        var command = new CommandWithExamples("snapshot",
            "Request a snapshot now. Without RABBITMQ_URI the pipeline runs in this process and the command waits.",
            "teleguard-backup snapshot",
            "teleguard-backup snapshot --wait --timeout 1800")
        {
            wait,
            timeout,
        };
        command.SetAction(result => ExecuteAsync(result.GetValue(wait), TimeSpan.FromSeconds(result.GetValue(timeout))));
        return command;
    }

    public static Task<int> ExecuteAsync(bool wait, TimeSpan timeout)
    {
        var (builder, inProcess) = RequestingHost.CreateBuilder();
        wait |= inProcess;
        builder.Services.AddBackupDestinations(); // to say where each copy went
        return RequestingHost.RunAsync(builder, needsDatabase: true, async host =>
        {
            var now = DateTimeOffset.UtcNow;
            var id = SnapshotIds.FromTime(now);
            var meta = host.Services.GetRequiredService<BackupsMetaStore>();
            await meta.RecordRequestedAsync(id, now, "manual", CancellationToken.None);
            await host.Services.GetRequiredService<IBus>().Publish(new SnapshotRequested(id, now, "manual"));
            Console.WriteLine($"Requested snapshot {id}{(inProcess ? " (in this process)" : "")}");
            return wait ? await WaitAsync(meta, host.Services.GetServices<IBackupDestination>().ToList(), id, timeout) : 0;
        });
    }

    private static async Task<int> WaitAsync(BackupsMetaStore meta, IReadOnlyList<IBackupDestination> destinations, string id, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        var lastStatus = "";
        try
        {
            while (true)
            {
                var record = await meta.GetAsync(id, cancel.Token);
                if (record is not null && record.Status != lastStatus)
                {
                    lastStatus = record.Status;
                    Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss}Z  {id}  {record.Status}");
                }

                if (record is not null && BackupStatus.IsFinal(record.Status))
                {
                    StatusCommand.PrintOutcome(record, destinations);
                    return record.Status == BackupStatus.Complete ? 0 : 1;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(500), cancel.Token);
            }
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine($"Snapshot {id} did not finish within {timeout.TotalSeconds:0} s (last status: {lastStatus}).");
            return 3;
        }
    }
}

using System.CommandLine;
using System.Threading.Channels;
using MassTransit;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Cli;

/// <summary>
/// <c>cleanup</c>: asks every service to apply its retention now (<see cref="CleanupRequested"/>). With <c>--wait</c> it
/// prints each destination's answer (<see cref="CleanupCompleted"/>) as it arrives and exits once all have answered: 0
/// when every one applied its retention, 1 when one failed, 3 when one did not answer in time (its service is not
/// running, or still retrying). Without RabbitMQ the services run in this process and the command always waits.
/// </summary>
public static class CleanupCommand
{
    public static Command Create()
    {
        var wait = CommandOptions.Wait("print each destination's result; exit 0 when all applied their retention, 1 when one failed, 3 on timeout");
        var timeout = CommandOptions.TimeoutSeconds(600);
        var command = new CommandWithExamples("cleanup",
            "Apply retention in every destination now. Without RABBITMQ_URI the services run in this process and the command waits.",
            "teleguard-backup cleanup",
            "teleguard-backup cleanup --wait --timeout 300")
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
        var answers = Channel.CreateUnbounded<CleanupCompleted>();
        builder.Services.AddSingleton(answers.Writer);
        if (wait)
        {
            // A queue of this invocation's own, bound before the request goes out and deleted when it ends.
            builder.Services.AddBackupConsumers(x => x.AddConsumer<CleanupAnswerConsumer>().Endpoint(e =>
            {
                e.Name = $"teleguard-cli-cleanup-{Guid.NewGuid():N}";
                e.Temporary = true;
            }));
        }

        return RequestingHost.RunAsync(builder, needsDatabase: false, async host =>
        {
            var now = DateTimeOffset.UtcNow;
            var requestId = $"{SnapshotIds.FromTime(now)}-{Guid.NewGuid():N}"[..23];
            await host.Services.GetRequiredService<IBus>().Publish(new CleanupRequested(requestId, now, "manual"));
            Console.WriteLine($"Requested cleanup {requestId}{(inProcess ? " (in this process)" : "")}");
            return wait ? await WaitAsync(answers.Reader, requestId, timeout) : 0;
        });
    }

    private static async Task<int> WaitAsync(ChannelReader<CleanupCompleted> answers, string requestId, TimeSpan timeout)
    {
        var pending = new HashSet<string>(CleanupReporter.Destinations, StringComparer.Ordinal);
        var failed = 0;
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            while (pending.Count > 0)
            {
                var answer = await answers.ReadAsync(cancel.Token);
                if (answer.RequestId != requestId || !pending.Remove(answer.Destination))
                {
                    continue; // another request's answer, or a repeat
                }

                failed += answer.Succeeded ? 0 : 1;
                Console.WriteLine(answer.Postponed ? $"{answer.Destination}: {answer.Summary}" : $"{answer.Destination}: {(answer.Succeeded ? "ok" : "failed")}: {answer.Summary}");
            }
        }
        catch (OperationCanceledException)
        {
            foreach (var destination in pending)
            {
                Console.WriteLine($"{destination}: no answer within {timeout.TotalSeconds:0} s (is its service running?)");
            }

            Console.Error.WriteLine($"Cleanup {requestId}: {string.Join(", ", pending)} did not answer within {timeout.TotalSeconds:0} s.");
            return 3;
        }

        return failed == 0 ? 0 : CommandLine.FailedExitCode;
    }
}

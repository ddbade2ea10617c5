using System.CommandLine;
using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.Cli;

/// <summary><c>run</c>: every service in one process, with health endpoints.</summary>
public static class RunCommand
{
    public static Command Create()
    {
        var command = new CommandWithExamples("run",
            "Host every service in one process, with health and metrics endpoints (RabbitMQ when RABBITMQ_URI is set, else in memory).",
            "teleguard-backup run");
        command.SetAction(_ => ExecuteAsync());
        return command;
    }

    public static Task<int> ExecuteAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.AddBackupDefaults();
        builder.AddAllBackupServices(includeScheduler: true);
        return builder.RunBackupServiceAsync();
    }
}

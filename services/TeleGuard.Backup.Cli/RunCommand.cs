using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.Cli;

/// <summary><c>run</c>: every service in one process, with health endpoints.</summary>
public static class RunCommand
{
    public static Task<int> ExecuteAsync(CommandOptions options)
    {
        options.RejectUnknown();
        var builder = WebApplication.CreateSlimBuilder();
        builder.AddBackupDefaults();
        builder.AddAllBackupServices(includeScheduler: true);
        return builder.RunBackupServiceAsync();
    }
}

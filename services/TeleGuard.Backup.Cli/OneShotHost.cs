using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.Cli;

/// <summary>
/// The host of a one-shot command (snapshot, cleanup, status, restore, drill): the services' configuration and
/// validation, text logs, and no log lines unless <c>LOG_LEVEL</c> asks for them: the command prints what it did, and
/// a failure is the one line the command line prints, not the libraries' log of it.
/// </summary>
public static class OneShotHost
{
    public static HostApplicationBuilder CreateBuilder()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.AddBackupDefaults(defaultLogFormat: "text");
        if (string.IsNullOrWhiteSpace(builder.Configuration["LOG_LEVEL"]))
        {
            builder.Logging.ClearProviders();
        }

        return builder;
    }
}

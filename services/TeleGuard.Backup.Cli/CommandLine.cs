using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.Cli;

/// <summary>
/// Parses <c>teleguard-backup COMMAND [options]</c> and runs the command. Whatever goes wrong ends here as one line on
/// stderr, never a stack trace, with the exit codes <see cref="ExitCodes"/> lists.
/// </summary>
public static class CommandLine
{
    public const int FailedExitCode = 1;
    public const int UsageExitCode = ConfigurationFailure.ExitCode;

    public const string ExitCodes = """
        Exit codes:
          0  ok
          1  failed (one line on stderr says what; also --to-time outside the recorded history or a broken chain)
          2  usage or configuration error (the option or the environment variable is named, never its value; also --to-time from a destination without increments)
          3  timeout (snapshot --wait, cleanup --wait) or stale (status --max-age-hours)
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        // "teleguard-backup help" has always shown the help, as --help does.
        // No @file expansion: a path starting with @ is a path.
        var parsed = CreateRootCommand().Parse(args is ["help"] ? ["--help"] : args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parsed.Action is ParseErrorAction)
        {
            return ReportUsageError(UsageErrorLine.Of(parsed));
        }

        var command = parsed.CommandResult.Command.Name;
        try
        {
            // The commands handle Ctrl+C and SIGTERM themselves (OperatorCancellation, the host's lifetime), and
            // report their own failures below.
            return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null });
        }
        catch (UsageException e)
        {
            return ReportUsageError(e.Message);
        }
        catch (OptionsValidationException e)
        {
            return ConfigurationFailure.Report(e);
        }
        catch (Exception e)
        {
            // Messages are redacted (no URI credentials) and cut to one line: the driver's and others' can span dozens.
            var what = e is CommandFailedException ? ErrorText.Printable(ErrorText.Redact(e.Message)) : ErrorText.OneLine(e);
            Console.Error.WriteLine($"teleguard-backup {command}: {what}");
            return FailedExitCode;
        }
    }

    public static RootCommand CreateRootCommand()
    {
        var root = new RootCommand("teleguard-backup: back up MongoDB to a private GitHub repository, an encrypted public copy and a Telegram channel; restore and verify those copies. Configuration comes from environment variables (see README.md).")
        {
            RunCommand.Create(),
            SnapshotCommand.Create(),
            CleanupCommand.Create(),
            StatusCommand.Create(),
            RestoreCommands.CreateRestore(),
            RestoreCommands.CreateVerify(),
            DrillCommand.Create(),
            KeyCommands.CreateKeygen(),
            KeyCommands.CreateDecrypt(),
        };
        var help = root.Options.OfType<HelpOption>().Single();
        var helpWithExamples = new HelpWithExamplesAction((HelpAction)help.Action!, ExitCodes);
        help.Action = helpWithExamples;

        // No command at all: the help, and the usage error's exit code.
        root.SetAction(result =>
        {
            helpWithExamples.Invoke(result);
            return UsageExitCode;
        });
        return root;
    }

    private static int ReportUsageError(string message)
    {
        // A stray word may be a connection string with its password: redacted like every other message.
        Console.Error.WriteLine($"teleguard-backup: {ErrorText.Printable(ErrorText.Redact(message))} (teleguard-backup --help lists the commands and their options)");
        return UsageExitCode;
    }
}

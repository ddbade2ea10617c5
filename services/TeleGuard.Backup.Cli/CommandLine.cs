using Microsoft.Extensions.Options;
using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.Cli;

/// <summary>
/// Dispatches <c>teleguard-backup COMMAND [options]</c>. Exit codes: 0 ok, 1 failed, 2 usage or configuration error,
/// 3 timeout or stale. Whatever goes wrong ends here as one line on stderr, never a stack trace.
/// </summary>
public static class CommandLine
{
    public const int FailedExitCode = 1;
    public const int UsageExitCode = ConfigurationFailure.ExitCode;

    public const string Usage = """
        usage: teleguard-backup COMMAND [options]

          run                          host every service in one process (RabbitMQ when RABBITMQ_URI is set, else in memory)
          snapshot [--wait] [--timeout SECONDS]
                                       request a snapshot now; --wait prints the outcome per destination.
                                       Without RABBITMQ_URI the pipeline runs in this process and the command waits.
          cleanup [--wait] [--timeout SECONDS]
                                       apply retention in every destination now; --wait prints each destination's
                                       result and exits 0 when all applied it, 1 when one failed, 3 on timeout
          status [--json] [--limit N] [--max-age-hours H]
                                       recent snapshots and each destination's outcome; with --max-age-hours, exit 3
                                       when the newest complete snapshot is older than H hours (or there is none)
          restore --from github|public|telegram|store|file [--path P] [--snapshot ID|latest] --to-uri URI [--db NAME]
                  [--collections a,b] [--drop] [--dry-run]
                                       check every file, restore into the target, verify the result's content hashes
          verify --from github|public|telegram|store|file [--path P] [--snapshot ID|latest]
                                       the same checks, writing nothing; exit 0 only when everything matches
          drill                        restore drill now: verify the latest snapshot from every configured destination and
                                       the store, record the results in backups_meta; exit 0 only when all pass
          keygen                       print a new key for ENCRYPTION_KEY or TELEGRAM_ENCRYPTION_KEY (base64 of 32 random bytes)
          decrypt --in FILE|DIR [--snapshot ID] --out FILE
                                       decrypt a downloaded public snapshot or Telegram copy (.tgb, its parts, or the folder
                                       holding them) into the snapshot archive (tar), with ENCRYPTION_KEY,
                                       TELEGRAM_ENCRYPTION_KEY or their previous keys

        Configuration comes from environment variables (see README.md).
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? UsageExitCode : 0;
        }

        var command = args[0];
        try
        {
            var options = CommandOptions.Parse(args[1..]);
            return command switch
            {
                "run" => await RunCommand.ExecuteAsync(options),
                "snapshot" => await SnapshotCommand.ExecuteAsync(options),
                "cleanup" => await CleanupCommand.ExecuteAsync(options),
                "status" => await StatusCommand.ExecuteAsync(options),
                "keygen" => KeyCommands.Keygen(options),
                "restore" => await RestoreCommands.RestoreAsync(options),
                "verify" => await RestoreCommands.VerifyAsync(options),
                "drill" => await DrillCommand.ExecuteAsync(options),
                "decrypt" => await KeyCommands.DecryptAsync(options),
                _ => throw new UsageException($"unknown command '{command}'"),
            };
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"teleguard-backup: {e.Message} (teleguard-backup --help lists the commands and their options)");
            return UsageExitCode;
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
}

public sealed class UsageException(string message) : Exception(message);

/// <summary><c>--name value</c> and <c>--flag</c> options; each command says which it accepts.</summary>
public sealed class CommandOptions
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public static CommandOptions Parse(string[] args)
    {
        var options = new CommandOptions();
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                throw new UsageException($"unexpected argument '{arg}'");
            }

            var name = arg[2..];
            string? value = null;
            var equals = name.IndexOf('=');
            if (equals >= 0)
            {
                value = name[(equals + 1)..];
                name = name[..equals];
            }
            else if (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                value = args[++i];
            }

            options._values[name] = value;
        }

        return options;
    }

    public bool Flag(string name)
    {
        _used.Add(name);
        if (!_values.TryGetValue(name, out var value))
        {
            return false;
        }

        return value is null || !bool.TryParse(value, out var parsed) || parsed;
    }

    public string? Value(string name)
    {
        _used.Add(name);
        return _values.GetValueOrDefault(name);
    }

    public double? Number(string name, double min, double max)
    {
        var text = Value(name);
        if (text is null)
        {
            return null;
        }

        if (!double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value)
            || value < min || value > max)
        {
            throw new UsageException($"--{name} must be a number from {min} to {max}");
        }

        return value;
    }

    /// <summary>Call after reading every option a command knows: anything else is a typo the user should hear about.</summary>
    public void RejectUnknown()
    {
        var unknown = _values.Keys.Where(k => !_used.Contains(k)).ToList();
        if (unknown.Count > 0)
        {
            throw new UsageException($"unknown option --{unknown[0]}");
        }
    }
}

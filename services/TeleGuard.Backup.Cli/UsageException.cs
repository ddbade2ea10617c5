namespace TeleGuard.Backup.Cli;

/// <summary>The command line asks for something the command cannot do: one line naming it, exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

namespace TeleGuard.Backup.Cli;

/// <summary>A command failed for a reason already worded for the operator: printed as it is, exit code 1.</summary>
public sealed class CommandFailedException(string message, Exception? innerException = null) : Exception(message, innerException);

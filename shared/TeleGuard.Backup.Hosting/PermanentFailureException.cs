namespace TeleGuard.Backup.Hosting;

/// <summary>A failure that retrying cannot fix (bad input): the message goes straight to the _error queue.</summary>
public class PermanentFailureException(string message, Exception? inner = null) : Exception(message, inner);

namespace TeleGuard.Backup.Hosting;

/// <summary>
/// A destination's retention did not run this time, for a reason that the next cleanup can get past (its branch lock
/// could not be taken, a copy is in progress). Not retried now; answered as postponed, never as done.
/// </summary>
public sealed class CleanupPostponedException(string reason) : Exception(reason);

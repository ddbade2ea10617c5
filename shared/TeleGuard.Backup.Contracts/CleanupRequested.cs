using MassTransit;

namespace TeleGuard.Backup.Contracts;

/// <summary>Asks every service to apply retention to its own copies. Never removes the last good copy.</summary>
/// <param name="SlotId">The cron slot (same format as snapshot ids) or a manual id; used to de-duplicate.</param>
[MessageUrn("teleguard-backup:cleanup-requested")]
public record CleanupRequested(string SlotId, DateTimeOffset RequestedAt, string Reason);

using MassTransit;

namespace TeleGuard.Backup.Contracts;

/// <summary>
/// Something an operator must look at: a snapshot that ended <c>degraded</c> or <c>failed</c>, no complete snapshot
/// for longer than the alert threshold, a restore drill that found a copy that no longer restores, a break in the
/// recorded change history, or a snapshot the change recorder cannot start from. Logged by whoever raises it; the Telegram service forwards it to
/// <c>TELEGRAM_ALERT_CHAT_ID</c> when set.
/// </summary>
/// <param name="AlertId">Stable for one condition (e.g. <c>degraded:20261126T040000Z</c>), so repeats can be recognised.</param>
/// <param name="Kind"><c>degraded</c>, <c>failed</c>, <c>stale</c>, <c>drill</c>, <c>gap</c> or <c>no-base</c>.</param>
[MessageUrn("teleguard-backup:backup-alert-raised")]
public record BackupAlertRaised(string AlertId, string Kind, string? SnapshotId, string Text, DateTimeOffset RaisedAt);

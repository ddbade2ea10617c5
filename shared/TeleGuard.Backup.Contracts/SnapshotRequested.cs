using MassTransit;

namespace TeleGuard.Backup.Contracts;

/// <summary>Asks the snapshot service to export the database under <paramref name="SnapshotId"/>.</summary>
/// <param name="SnapshotId">UTC timestamp id such as <c>20261126T040000Z</c>; a scheduled request uses its cron slot.</param>
/// <param name="Reason"><c>schedule</c>, <c>catch-up</c> or <c>manual</c>.</param>
[MessageUrn("teleguard-backup:snapshot-requested")]
public record SnapshotRequested(string SnapshotId, DateTimeOffset RequestedAt, string Reason);

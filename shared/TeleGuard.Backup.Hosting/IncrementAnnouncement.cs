using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Hosting;

/// <summary>The <see cref="IncrementCreated"/> of a recorded increment, rebuilt from its record in backups_meta.</summary>
public static class IncrementAnnouncement
{
    public static IncrementCreated Of(IncrementRecord record) =>
        new(record.Id, record.Chain, record.Sequence, record.BaseSnapshotId, new DateTimeOffset(DateTime.SpecifyKind(record.ClosedAt, DateTimeKind.Utc)),
            record.From.Timestamp, record.To.Timestamp, record.Events, record.Artifact.Location, record.Artifact.Size, record.Artifact.Sha256);
}

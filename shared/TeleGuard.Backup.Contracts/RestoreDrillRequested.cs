using MassTransit;

namespace TeleGuard.Backup.Contracts;

/// <summary>
/// Asks every destination's own service to run the restore drill on its copy: fetch the newest snapshot it holds, check
/// every file and decode every document, and record the result on that snapshot (<c>drills.&lt;destination&gt;</c>).
/// Each service drills only its own destination, with its own secrets.
/// </summary>
/// <param name="SlotId">The cron slot of <c>RESTORE_DRILL_SCHEDULE</c> (same format as snapshot ids).</param>
[MessageUrn("teleguard-backup:restore-drill-requested")]
public record RestoreDrillRequested(string SlotId, DateTimeOffset RequestedAt, string Reason);

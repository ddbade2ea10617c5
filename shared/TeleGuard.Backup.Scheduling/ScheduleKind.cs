namespace TeleGuard.Backup.Scheduling;

public enum ScheduleKind
{
    Backup,
    Cleanup,
    RestoreDrill,
}

namespace TeleGuard.Backup.Storage;

public enum SinkClaim
{
    /// <summary>This caller holds the sink's lease on the snapshot and makes the copy.</summary>
    Acquired,

    /// <summary>The copy is already recorded as made.</summary>
    AlreadySucceeded,

    /// <summary>Another live instance of the sink is making the copy.</summary>
    HeldElsewhere,

    /// <summary>backups_meta has no record of the snapshot.</summary>
    NoRecord,
}

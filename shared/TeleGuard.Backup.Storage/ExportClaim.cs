namespace TeleGuard.Backup.Storage;

public enum ExportClaim
{
    /// <summary>This caller holds the export lease and must export.</summary>
    Acquired,

    /// <summary>The snapshot is already created: nothing to export.</summary>
    AlreadyCreated,

    /// <summary>Another live exporter holds the lease.</summary>
    HeldElsewhere,

    /// <summary>
    /// The snapshot's export failed for good: it is never exported again under this id (the data read now is not the
    /// data of the time the id names). A new snapshot takes a new id.
    /// </summary>
    Refused,
}

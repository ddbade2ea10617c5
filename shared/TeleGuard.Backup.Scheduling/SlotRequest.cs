namespace TeleGuard.Backup.Scheduling;

public enum SlotRequest
{
    /// <summary>This instance published the slot's request.</summary>
    Published,

    /// <summary>Another scheduler of this deployment published it already.</summary>
    AlreadyRequested,

    /// <summary>Another scheduler is publishing it right now; ask again later to learn whether it succeeded.</summary>
    InProgressElsewhere,
}

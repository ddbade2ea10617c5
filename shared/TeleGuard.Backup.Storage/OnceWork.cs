namespace TeleGuard.Backup.Storage;

/// <summary>The state of work claimed with <see cref="RedisLocks.TryClaimWorkAsync"/>.</summary>
public enum OnceWork
{
    /// <summary>This caller holds the claim and does the work.</summary>
    Taken,

    /// <summary>The work was done (by any process).</summary>
    Done,

    /// <summary>Another process holds the claim and is doing the work now.</summary>
    HeldElsewhere,
}

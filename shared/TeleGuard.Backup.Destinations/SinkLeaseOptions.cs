using Microsoft.Extensions.Configuration;
using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Destinations;

/// <summary>
/// <c>SINK_LEASE_SECONDS</c> (default 120): how long a sink instance's claim on a snapshot lasts without renewal. It is
/// renewed while the copy is made; after a crash another instance (or the restarted one) takes over once it expires.
/// <c>INCREMENT_WAIT_SECONDS</c> (default 1200): when increments are parked at a destination behind one that has shown
/// no progress there for this long (its message lost, or it failed before recording anything), that one is announced
/// to the destination again. A predecessor that is only slow (retrying, waiting for the branch lock) records its
/// attempts, and its outcome wakes the parked increments.
/// </summary>
public sealed class SinkLeaseOptions
{
    public const string Variable = "SINK_LEASE_SECONDS";
    public const string IncrementWaitVariable = "INCREMENT_WAIT_SECONDS";

    [ConfigurationKeyName(Variable)]
    [WholeNumber(5, 3600)]
    public string? LeaseSeconds { get; set => field = Setting.Clean(value); }

    public TimeSpan Lease => TimeSpan.FromSeconds(Setting.WholeNumber(LeaseSeconds, 120));

    [ConfigurationKeyName(IncrementWaitVariable)]
    [WholeNumber(1, 86400)]
    public string? IncrementWaitSeconds { get; set => field = Setting.Clean(value); }

    public TimeSpan IncrementWait => TimeSpan.FromSeconds(Setting.WholeNumber(IncrementWaitSeconds, 1200));

    /// <summary>How long a delivery waits for another instance's copy before it is retried later.</summary>
    public TimeSpan MaxWait { get; } = TimeSpan.FromMinutes(20);
}

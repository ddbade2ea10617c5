using Microsoft.Extensions.Configuration;
using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Destinations;

/// <summary>
/// <c>SINK_LEASE_SECONDS</c> (default 120): how long a sink instance's claim on a snapshot lasts without renewal. It is
/// renewed while the copy is made; after a crash another instance (or the restarted one) takes over once it expires.
/// <c>INCREMENT_WAIT_SECONDS</c> (default 1200): how long an increment parked at a destination waits for a predecessor
/// that never reached that destination (its message lost) before the predecessor is counted as failed there and the
/// chain goes on without it. A predecessor that is only slow (retrying, waiting for the branch lock) is waited for
/// as long as it takes: its outcome wakes the increment.
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

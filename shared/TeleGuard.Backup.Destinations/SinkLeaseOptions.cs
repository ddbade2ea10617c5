using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Destinations;

/// <summary>
/// <c>SINK_LEASE_SECONDS</c> (default 120): how long a sink instance's claim on a snapshot lasts without renewal. It is
/// renewed while the copy is made; after a crash another instance (or the restarted one) takes over once it expires.
/// </summary>
public sealed class SinkLeaseOptions : EnvironmentOptions
{
    public const string Variable = "SINK_LEASE_SECONDS";

    public TimeSpan Lease { get; private set; } = TimeSpan.FromSeconds(120);

    /// <summary>How long a delivery waits for another instance's copy before it is retried later.</summary>
    public TimeSpan MaxWait { get; } = TimeSpan.FromMinutes(20);

    protected override void Read(SettingsReader settings) =>
        Lease = TimeSpan.FromSeconds(settings.WholeNumber(Variable, 120, 5, 3600));
}

using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Recording;

public sealed class RecorderOptions
{
    /// <summary><c>INCREMENT_SECONDS</c>: how often an increment is closed (the recovery point objective, roughly).</summary>
    [ConfigurationKeyName("INCREMENT_SECONDS")]
    [WholeNumber(1, 3600)]
    public string? IncrementSecondsSetting { get; set => field = Setting.Clean(value); }

    /// <summary><c>RECORDER_LEASE_SECONDS</c>: how long a dead recorder keeps a standby waiting before it takes over.</summary>
    [ConfigurationKeyName("RECORDER_LEASE_SECONDS")]
    [WholeNumber(3, 600)]
    public string? LeaseSecondsSetting { get; set => field = Setting.Clean(value); }

    public TimeSpan IncrementInterval => TimeSpan.FromSeconds(Setting.WholeNumber(IncrementSecondsSetting, 60));

    public TimeSpan Lease => TimeSpan.FromSeconds(Setting.WholeNumber(LeaseSecondsSetting, 30));

    /// <summary>An increment is closed early once its events reach this size (one event may still take it past).</summary>
    public long MaxIncrementBytes { get; set; } = 16 * 1024 * 1024;
}

using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Scheduling;

/// <summary>
/// <c>ALERT_MAX_AGE_HOURS</c> (default 3: two missed hourly snapshots): alert when the newest complete snapshot is
/// older. <c>ALERT_CHECK_SECONDS</c> (default 60): how often the scheduler looks.
/// </summary>
public sealed class AlertOptions : EnvironmentOptions
{
    public const string MaxAgeVariable = "ALERT_MAX_AGE_HOURS";
    public const string CheckIntervalVariable = "ALERT_CHECK_SECONDS";

    public TimeSpan MaxAge { get; private set; } = TimeSpan.FromHours(3);
    public TimeSpan CheckInterval { get; private set; } = TimeSpan.FromSeconds(60);

    protected override void Read(SettingsReader settings)
    {
        MaxAge = TimeSpan.FromHours(settings.WholeNumber(MaxAgeVariable, 3, 1, 24 * 365));
        CheckInterval = TimeSpan.FromSeconds(settings.WholeNumber(CheckIntervalVariable, 60, 1, 3600));
    }
}

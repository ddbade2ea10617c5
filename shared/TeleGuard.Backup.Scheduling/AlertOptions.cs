using Microsoft.Extensions.Configuration;
using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Scheduling;

/// <summary>
/// <c>ALERT_MAX_AGE_HOURS</c> (default 3: two missed hourly snapshots): alert when the newest complete snapshot is
/// older. <c>ALERT_CHECK_SECONDS</c> (default 60): how often the scheduler looks.
/// </summary>
public sealed class AlertOptions
{
    public const string MaxAgeVariable = "ALERT_MAX_AGE_HOURS";
    public const string CheckIntervalVariable = "ALERT_CHECK_SECONDS";

    [ConfigurationKeyName(MaxAgeVariable)]
    [WholeNumber(1, 24 * 365)]
    public string? MaxAgeHours { get; set => field = Setting.Clean(value); }

    [ConfigurationKeyName(CheckIntervalVariable)]
    [WholeNumber(1, 3600)]
    public string? CheckSeconds { get; set => field = Setting.Clean(value); }

    public TimeSpan MaxAge => TimeSpan.FromHours(Setting.WholeNumber(MaxAgeHours, 3));
    public TimeSpan CheckInterval => TimeSpan.FromSeconds(Setting.WholeNumber(CheckSeconds, 60));
}

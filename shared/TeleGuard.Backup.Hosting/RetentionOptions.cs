using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Hosting;

/// <summary><c>RETENTION_HOURS</c>: copies older than this are cleaned up; the last good copy in a destination never is.</summary>
public sealed class RetentionOptions : EnvironmentOptions
{
    public const string HoursVariable = "RETENTION_HOURS";

    public TimeSpan Retention { get; private set; } = TimeSpan.FromHours(8);

    protected override void Read(SettingsReader settings) =>
        Retention = TimeSpan.FromHours(settings.WholeNumber(HoursVariable, 8, 1, 24 * 365));
}

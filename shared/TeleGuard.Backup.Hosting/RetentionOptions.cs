using Microsoft.Extensions.Configuration;
using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Hosting;

/// <summary><c>RETENTION_HOURS</c>: copies older than this are cleaned up; the last good copy in a destination never is.</summary>
public sealed class RetentionOptions
{
    public const string HoursVariable = "RETENTION_HOURS";

    [ConfigurationKeyName(HoursVariable)]
    [WholeNumber(1, 24 * 365)]
    public string? Hours { get; set => field = Setting.Clean(value); }

    public TimeSpan Retention => TimeSpan.FromHours(Setting.WholeNumber(Hours, 8));
}

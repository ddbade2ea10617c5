using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Hosting;

/// <summary><c>RETENTION_HOURS</c>: copies older than this are cleaned up; the last good copy in a destination never is.</summary>
public sealed class RetentionOptions : EnvironmentOptions
{
    public const string HoursVariable = "RETENTION_HOURS";

    public TimeSpan Retention { get; private set; } = TimeSpan.FromHours(8);

    protected override void Read(SettingsReader settings) =>
        Retention = TimeSpan.FromHours(settings.Int(HoursVariable, 8, 1, 24 * 365));
}

/// <summary><c>SNAPSHOT_DIR</c>: local working directory (exports, git clones, temporary files) of every service.</summary>
public sealed class WorkDirectoryOptions : EnvironmentOptions
{
    public const string Variable = "SNAPSHOT_DIR";
    public const string Default = "/tmp/teleguard_snapshots";

    public string Path { get; private set; } = Default;

    protected override void Read(SettingsReader settings)
    {
        Path = settings.OrDefault(Variable, Default);
        if (!System.IO.Path.IsPathFullyQualified(Path))
        {
            settings.Fail(Variable, "must be an absolute path");
        }
    }
}

/// <summary>A failure that retrying cannot fix (bad input): the message goes straight to the _error queue.</summary>
public class PermanentFailureException(string message, Exception? inner = null) : Exception(message, inner);

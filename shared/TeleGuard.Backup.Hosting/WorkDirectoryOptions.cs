using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Hosting;

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

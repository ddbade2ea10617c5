using Microsoft.Extensions.Configuration;
using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Hosting;

/// <summary><c>SNAPSHOT_DIR</c>: local working directory (exports, git clones, temporary files) of every service.</summary>
public sealed class WorkDirectoryOptions
{
    public const string Variable = "SNAPSHOT_DIR";
    public const string Default = "/tmp/teleguard_snapshots";

    [ConfigurationKeyName(Variable)]
    [AbsolutePath]
    public string? Directory { get; set => field = Setting.Clean(value); }

    public string Path => Directory ?? Default;
}

using Microsoft.Extensions.Configuration;
using MongoDB.Driver;
using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Storage;

/// <summary><c>MONGODB_URI</c>: the database to back up, which also holds <c>backups_meta</c> (artifacts never: see <see cref="ArtifactStoreOptions"/>).</summary>
public sealed class MongoOptions
{
    public const string UriVariable = "MONGODB_URI";

    [ConfigurationKeyName(UriVariable)]
    [RequiredSetting]
    [MongoConnectionString]
    public string? Uri { get; set => field = Setting.Clean(value); }

    public string ConnectionString => Uri ?? "";

    public string DatabaseName => MongoConnectionStringAttribute.TryParse(Uri)?.DatabaseName ?? "";

    /// <summary>
    /// The database being backed up, named without credentials: its name and a hash of its servers and replica set.
    /// State that several deployments may share (keys in one Redis) carries it, so they never collide.
    /// </summary>
    public string DatabaseIdentity => MongoConnectionStringAttribute.TryParse(Uri) is { } url ? IdentityOf(url) : "";

    /// <summary>The database backed up, as a short name: its name and a hash of its servers and replica set.</summary>
    public static string IdentityOf(MongoUrl url)
    {
        ArgumentNullException.ThrowIfNull(url);
        var servers = string.Join(",", url.Servers.Select(s => $"{s.Host}:{s.Port}".ToLowerInvariant()).Order(StringComparer.Ordinal));
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{servers}/{url.ReplicaSetName}/{url.DatabaseName}"));
        return $"{url.DatabaseName}.{Convert.ToHexStringLower(hash)[..12]}";
    }
}

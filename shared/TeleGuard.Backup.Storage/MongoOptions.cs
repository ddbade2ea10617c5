using MongoDB.Driver;
using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Storage;

/// <summary><c>MONGODB_URI</c>: the database to back up, which also holds <c>backups_meta</c> (artifacts never: see <see cref="ArtifactStoreOptions"/>).</summary>
public sealed class MongoOptions : EnvironmentOptions
{
    public const string UriVariable = "MONGODB_URI";

    public string ConnectionString { get; private set; } = "";
    public string DatabaseName { get; private set; } = "";

    /// <summary>
    /// The database being backed up, named without credentials: its name and a hash of its servers and replica set.
    /// State that several deployments may share (keys in one Redis) carries it, so they never collide.
    /// </summary>
    public string DatabaseIdentity { get; private set; } = "";

    /// <summary>The database backed up, as a short name: its name and a hash of its servers and replica set.</summary>
    public static string IdentityOf(MongoUrl url)
    {
        var servers = string.Join(",", url.Servers.Select(s => $"{s.Host}:{s.Port}".ToLowerInvariant()).Order(StringComparer.Ordinal));
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{servers}/{url.ReplicaSetName}/{url.DatabaseName}"));
        return $"{url.DatabaseName}.{Convert.ToHexStringLower(hash)[..12]}";
    }

    protected override void Read(SettingsReader settings)
    {
        ConnectionString = settings.Required(UriVariable);
        if (ConnectionString.Length == 0)
        {
            return;
        }

        try
        {
            var url = MongoUrl.Create(ConnectionString);
            DatabaseName = url.DatabaseName ?? "";
            if (DatabaseName.Length == 0)
            {
                settings.Fail(UriVariable, "must name the database in its path, e.g. mongodb://host:27017/teleguard");
            }

            DatabaseIdentity = IdentityOf(url);
        }
        catch (Exception)
        {
            // The driver's message may quote the URI, and with it a password: say only what is wrong.
            settings.Fail(UriVariable, "is not a valid MongoDB connection string (mongodb://[user:password@]host[:port]/database)");
        }
    }
}

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

/// <summary><c>REDIS_URL</c> as <c>redis://[:password@]host:port[/db]</c> (locks and the backups_meta fallback).</summary>
public sealed class RedisOptions : EnvironmentOptions
{
    public const string UrlVariable = "REDIS_URL";
    public const string DefaultUrl = "redis://localhost:6379";
    public const string KeyPrefixVariable = "REDIS_KEY_PREFIX";

    /// <summary>
    /// Prefix of every key this system writes: <c>REDIS_KEY_PREFIX</c> and the identity of the database backed up
    /// (<see cref="MongoOptions.IdentityOf"/>), so deployments sharing a Redis server never read each other's slot
    /// claims, locks, alerts or deferred results. Two deployments whose <c>MONGODB_URI</c> names the same host and
    /// database (say two compose stacks, each with its own "mongo") must set different prefixes to share one.
    /// </summary>
    public string KeyPrefix { get; private set; } = "teleguard";

    public string Host { get; private set; } = "localhost";
    public int Port { get; private set; } = 6379;
    public string? Password { get; private set; }
    public string? User { get; private set; }
    public int Database { get; private set; }
    public bool UseTls { get; private set; }

    protected override void Read(SettingsReader settings)
    {
        KeyPrefix = settings.OrDefault(KeyPrefixVariable, "teleguard");
        if (settings.Optional(MongoOptions.UriVariable) is { } mongoUri)
        {
            try
            {
                var url = MongoUrl.Create(mongoUri);
                if (!string.IsNullOrEmpty(url.DatabaseName))
                {
                    KeyPrefix = $"{KeyPrefix}:{MongoOptions.IdentityOf(url)}";
                }
            }
            catch (Exception)
            {
                // MongoOptions reports a malformed MONGODB_URI, naming it.
            }
        }
        var text = settings.OrDefault(UrlVariable, DefaultUrl);
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("redis" or "rediss") || uri.Host.Length == 0)
        {
            settings.Fail(UrlVariable, "must be redis://[:password@]host:port[/db]");
            return;
        }

        Host = uri.Host;
        Port = uri.IsDefaultPort || uri.Port <= 0 ? 6379 : uri.Port;
        UseTls = uri.Scheme == "rediss";
        if (uri.UserInfo.Length > 0)
        {
            var parts = uri.UserInfo.Split(':', 2);
            User = parts[0].Length > 0 ? Uri.UnescapeDataString(parts[0]) : null;
            Password = parts.Length > 1 ? Uri.UnescapeDataString(parts[1]) : null;
        }

        var path = uri.AbsolutePath.Trim('/');
        if (path.Length > 0)
        {
            if (!int.TryParse(path, out var database) || database < 0)
            {
                settings.Fail(UrlVariable, "has a database number in its path that is not a whole number");
                return;
            }

            Database = database;
        }
    }
}

/// <summary>
/// Where snapshot artifacts are kept, never in the database being backed up: <c>ARTIFACT_STORE</c> = <c>gridfs</c>
/// (default: GridFS in <c>ARTIFACT_DATABASE</c>, by default <c>&lt;db&gt;_backup</c> on the same server) or
/// <c>directory</c> with <c>ARTIFACT_DIR</c> (a volume every service mounts).
/// </summary>
public sealed class ArtifactStoreOptions : EnvironmentOptions
{
    public const string StoreVariable = "ARTIFACT_STORE";
    public const string DirectoryVariable = "ARTIFACT_DIR";
    public const string DatabaseVariable = "ARTIFACT_DATABASE";
    public const string BucketVariable = "ARTIFACT_GRIDFS_BUCKET";
    public const string DefaultBucket = "teleguard_artifacts";
    public const string DefaultDatabaseSuffix = "_backup";

    public string Kind { get; private set; } = "gridfs";

    /// <summary>The artifact directory: where a directory store writes, and where <c>dir:</c> locations are read.</summary>
    public string? Directory { get; private set; }

    /// <summary>The database GridFS artifacts are written to (on the server of <c>MONGODB_URI</c>).</summary>
    public string Database { get; private set; } = "";

    public string GridFsBucket { get; private set; } = DefaultBucket;

    /// <summary>
    /// The bucket's collections. Earlier versions kept artifacts in the database being backed up: wherever these
    /// collections are found there, they are never exported, so snapshots do not nest.
    /// </summary>
    public IReadOnlySet<string> OwnCollections => new HashSet<string> { $"{GridFsBucket}.files", $"{GridFsBucket}.chunks" };

    protected override void Read(SettingsReader settings)
    {
        Kind = settings.OrDefault(StoreVariable, "gridfs").ToLowerInvariant();
        GridFsBucket = settings.OrDefault(BucketVariable, DefaultBucket);
        Directory = settings.Optional(DirectoryVariable);
        if (Directory is not null && !Path.IsPathFullyQualified(Directory))
        {
            settings.Fail(DirectoryVariable, "must be an absolute path");
        }

        switch (Kind)
        {
            case "gridfs":
                break;
            case "directory":
                if (Directory is null)
                {
                    settings.Fail(DirectoryVariable, "is required when ARTIFACT_STORE is directory");
                }

                break;
            default:
                settings.Fail(StoreVariable, "must be gridfs or directory");
                break;
        }

        // MongoOptions reports a missing or invalid MONGODB_URI; here it only names the database being backed up.
        var backedUp = DatabaseNameOf(settings.Optional(MongoOptions.UriVariable));
        var configured = settings.Optional(DatabaseVariable);
        Database = configured ?? (backedUp is null ? "" : backedUp + DefaultDatabaseSuffix);
        if (configured is not null && configured == backedUp)
        {
            settings.Fail(DatabaseVariable, "must not be the database being backed up (the one in MONGODB_URI): artifacts there would bloat it and its oplog");
        }
        else if (Database.Length > 0 && !IsValidDatabaseName(Database))
        {
            settings.Fail(DatabaseVariable, configured is null
                ? "must be set: the default (the backed-up database's name + _backup) is not a valid MongoDB database name"
                : "is not a valid MongoDB database name (1 to 63 characters, none of / \\ . \" $ * < > : | ?)");
        }
    }

    private static string? DatabaseNameOf(string? uri)
    {
        try
        {
            return uri is null ? null : MongoUrl.Create(uri).DatabaseName;
        }
        catch (Exception)
        {
            return null;
        }
    }

    private static bool IsValidDatabaseName(string name) =>
        name.Length is > 0 and < 64 && name.IndexOfAny(['/', '\\', '.', ' ', '"', '$', '*', '<', '>', ':', '|', '?', '\0']) < 0;
}

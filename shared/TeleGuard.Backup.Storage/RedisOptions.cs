using MongoDB.Driver;
using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Storage;

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

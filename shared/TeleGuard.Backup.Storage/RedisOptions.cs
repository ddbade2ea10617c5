using Microsoft.Extensions.Configuration;
using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Storage;

/// <summary><c>REDIS_URL</c> as <c>redis://[:password@]host:port[/db]</c> (locks and the backups_meta fallback).</summary>
public sealed class RedisOptions
{
    public const string UrlVariable = "REDIS_URL";
    public const string DefaultUrl = "redis://localhost:6379";
    public const string KeyPrefixVariable = "REDIS_KEY_PREFIX";

    [ConfigurationKeyName(UrlVariable)]
    [RedisUrl]
    public string? Url { get; set => field = Setting.Clean(value); }

    [ConfigurationKeyName(KeyPrefixVariable)]
    public string? KeyPrefixSetting { get; set => field = Setting.Clean(value); }

    /// <summary>Only to name the database backed up in <see cref="KeyPrefix"/>; <see cref="MongoOptions"/> reports a bad one.</summary>
    [ConfigurationKeyName(MongoOptions.UriVariable)]
    public string? MongoUri { get; set => field = Setting.Clean(value); }

    /// <summary>
    /// Prefix of every key this system writes: <c>REDIS_KEY_PREFIX</c> and the identity of the database backed up
    /// (<see cref="MongoOptions.IdentityOf"/>), so deployments sharing a Redis server never read each other's slot
    /// claims, locks, alerts or deferred results. Two deployments whose <c>MONGODB_URI</c> names the same host and
    /// database (say two compose stacks, each with its own "mongo") must set different prefixes to share one.
    /// </summary>
    public string KeyPrefix =>
        MongoConnectionStringAttribute.TryParse(MongoUri) is { DatabaseName.Length: > 0 } mongo
            ? $"{KeyPrefixSetting ?? "teleguard"}:{MongoOptions.IdentityOf(mongo)}"
            : KeyPrefixSetting ?? "teleguard";

    public string Host => Parsed.Host;
    public int Port => Parsed.IsDefaultPort || Parsed.Port <= 0 ? 6379 : Parsed.Port;
    public string? User => Parsed.UserInfo.Split(':', 2)[0] is { Length: > 0 } user ? Uri.UnescapeDataString(user) : null;
    public string? Password => Parsed.UserInfo.Split(':', 2) is [_, var password] ? Uri.UnescapeDataString(password) : null;
    public int Database => RedisUrlAttribute.DatabaseOf(Parsed) ?? 0;
    public bool UseTls => Parsed.Scheme == "rediss";

    private Uri Parsed => RedisUrlAttribute.TryParse(Url ?? DefaultUrl, out var uri) ? uri : new Uri(DefaultUrl);
}

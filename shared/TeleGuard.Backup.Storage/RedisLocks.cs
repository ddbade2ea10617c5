using StackExchange.Redis;

namespace TeleGuard.Backup.Storage;

/// <summary>Claims and leases in Redis (SET NX with expiry). Throws <see cref="RedisUnavailableException"/> when Redis is down.</summary>
public sealed class RedisLocks(RedisConnection redis)
{
    /// <summary>
    /// Claims <paramref name="key"/> once for <paramref name="ttl"/>: true for exactly one caller across all processes.
    /// Used so that any number of schedulers publish one request per cron slot.
    /// </summary>
    public async Task<bool> TryClaimOnceAsync(string key, TimeSpan ttl, CancellationToken cancellationToken)
    {
        var database = await redis.GetDatabaseAsync(cancellationToken);
        try
        {
            return await database.StringSetAsync(redis.Key(key), Environment.MachineName, ttl, When.NotExists);
        }
        catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException)
        {
            throw new RedisUnavailableException("Redis did not answer.", e);
        }
    }

    /// <summary>Whether a claim exists (for catch-up: was this slot already requested?).</summary>
    public async Task<bool> IsClaimedAsync(string key, CancellationToken cancellationToken)
    {
        var database = await redis.GetDatabaseAsync(cancellationToken);
        try
        {
            return await database.KeyExistsAsync(redis.Key(key));
        }
        catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException)
        {
            throw new RedisUnavailableException("Redis did not answer.", e);
        }
    }
}

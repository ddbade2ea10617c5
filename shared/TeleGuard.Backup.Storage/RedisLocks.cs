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

    /// <summary>
    /// Takes an exclusive lease on <paramref name="key"/>, waiting up to <paramref name="wait"/> for it. The lease is
    /// renewed every third of <paramref name="ttl"/> until disposed, so a crashed holder blocks others for at most
    /// <paramref name="ttl"/> while a slow live one keeps it. Returns null
    /// when Redis is unavailable (the caller proceeds unlocked and relies on its own conflict handling); throws
    /// <see cref="TimeoutException"/> when another holder keeps it longer than the wait.
    /// </summary>
    public async Task<RedisLease?> AcquireAsync(string key, TimeSpan ttl, TimeSpan wait, CancellationToken cancellationToken)
    {
        IDatabase database;
        try
        {
            database = await redis.GetDatabaseAsync(cancellationToken);
        }
        catch (RedisUnavailableException)
        {
            return null;
        }

        var token = Guid.NewGuid().ToString("N");
        var fullKey = redis.Key(key);
        var deadline = DateTime.UtcNow + wait;
        while (true)
        {
            try
            {
                if (await database.StringSetAsync(fullKey, token, ttl, When.NotExists))
                {
                    return new RedisLease(database, fullKey, token, ttl);
                }
            }
            catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException)
            {
                return null;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Lock {key} is held by another instance.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken);
        }
    }

    /// <summary>
    /// Claims work that must be done once across all processes (a scheduler slot's request): <see cref="OnceWork.Taken"/>
    /// for exactly one caller, who then holds it for at most <paramref name="hold"/> and must end it with
    /// <see cref="MarkDoneAsync"/> once the work is done or <see cref="ReleaseAsync"/> when it failed. A holder that
    /// dies lets the claim expire, so the work is never lost to a crash between claiming and doing it.
    /// </summary>
    public async Task<(OnceWork State, WorkClaim? Claim)> TryClaimWorkAsync(string key, TimeSpan hold, CancellationToken cancellationToken)
    {
        const string script = """
            local current = redis.call('get', KEYS[1])
            if not current then
              redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
              return 'taken'
            end
            if current == ARGV[3] then return 'done' end
            return 'held'
            """;
        var database = await redis.GetDatabaseAsync(cancellationToken);
        var claim = new WorkClaim(redis.Key(key), $"held:{Environment.MachineName}:{Guid.NewGuid():N}");
        var result = (string?)await Guard(() => database.ScriptEvaluateAsync(script, [claim.Key], [claim.Token, (long)hold.TotalMilliseconds, DoneValue]));
        return result switch
        {
            "taken" => (OnceWork.Taken, claim),
            "done" => (OnceWork.Done, null),
            _ => (OnceWork.HeldElsewhere, null),
        };
    }

    /// <summary>Marks claimed work as done for <paramref name="keep"/>: nobody claims it again meanwhile.</summary>
    public async Task MarkDoneAsync(WorkClaim claim, TimeSpan keep, CancellationToken cancellationToken)
    {
        const string script = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3]) else return false end";
        var database = await redis.GetDatabaseAsync(cancellationToken);
        await Guard(() => database.ScriptEvaluateAsync(script, [claim.Key], [claim.Token, DoneValue, (long)keep.TotalMilliseconds]));
    }

    /// <summary>Gives up claimed work that could not be done, so that the next try (here or elsewhere) can take it.</summary>
    public async Task ReleaseAsync(WorkClaim claim, CancellationToken cancellationToken)
    {
        const string script = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
        var database = await redis.GetDatabaseAsync(cancellationToken);
        await Guard(() => database.ScriptEvaluateAsync(script, [claim.Key], [claim.Token]));
    }

    private const string DoneValue = "done";

    private static async Task<T> Guard<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
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

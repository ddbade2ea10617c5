using StackExchange.Redis;

namespace TeleGuard.Backup.Storage;

/// <summary>An exclusive Redis lease, renewed while held and released on dispose only if still ours.</summary>
public sealed class RedisLease : IAsyncDisposable
{
    private const string ReleaseScript = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
    private const string RenewScript = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";

    private readonly IDatabase _database;
    private readonly RedisKey _key;
    private readonly string _token;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _renewing;

    public RedisLease(IDatabase database, RedisKey key, string token, TimeSpan ttl)
    {
        _database = database;
        _key = key;
        _token = token;
        _renewing = RenewAsync(ttl);
    }

    private async Task RenewAsync(TimeSpan ttl)
    {
        try
        {
            while (true)
            {
                await Task.Delay(ttl / 3, _stop.Token);
                try
                {
                    await _database.ScriptEvaluateAsync(RenewScript, [_key], [_token, (long)ttl.TotalMilliseconds]);
                }
                catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException)
                {
                    // Redis is away: the holder goes on (duplicates are handled by the caller's own conflict checks).
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Disposed.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _renewing;
        _stop.Dispose();
        try
        {
            await _database.ScriptEvaluateAsync(ReleaseScript, [_key], [_token]);
        }
        catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException)
        {
            // The lease expires on its own.
        }
    }
}

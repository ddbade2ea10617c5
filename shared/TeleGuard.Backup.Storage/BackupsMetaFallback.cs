using MongoDB.Bson;
using MongoDB.Bson.IO;
using MongoDB.Driver;
using StackExchange.Redis;

namespace TeleGuard.Backup.Storage;

/// <summary>
/// Where sink results wait while MongoDB is unreachable: a Redis list of the <c>backups_meta</c> writes
/// that could not be made, in the order they happened, replayed into MongoDB when it answers again. Each entry carries
/// the time it was made, and applying it is conditional on the record holding nothing newer, so replaying an entry
/// twice, late, or after a newer write changes nothing. An entry leaves the list only once applied or found obsolete;
/// one that MongoDB refuses as invalid is moved to a second list (<c>backups_meta:refused</c>) for an operator.
/// </summary>
public sealed class BackupsMetaFallback(RedisConnection redis)
{
    // Pops the head only if it is the entry just applied: two replayers may apply an entry twice, never skip one.
    private const string PopIfHeadScript = "if redis.call('lindex', KEYS[1], 0) == ARGV[1] then return redis.call('lpop', KEYS[1]) else return false end";

    private const string MoveHeadScript =
        "if redis.call('lindex', KEYS[1], 0) == ARGV[1] then redis.call('lpop', KEYS[1]); return redis.call('rpush', KEYS[2], ARGV[1]) else return false end";

    private static readonly JsonWriterSettings Canonical = new() { OutputMode = JsonOutputMode.CanonicalExtendedJson };

    private RedisKey Key => redis.Key("backups_meta:pending");

    /// <summary>Entries MongoDB refused as invalid: kept, never replayed again.</summary>
    public RedisKey RefusedKey => redis.Key("backups_meta:refused");

    public async Task AppendAsync(PendingMetaWrite write, CancellationToken cancellationToken)
    {
        var database = await redis.GetDatabaseAsync(cancellationToken);
        await Guard(() => database.ListRightPushAsync(Key, write.ToBsonDocument().ToJson(Canonical)));
    }

    /// <summary>The pending writes, oldest first (empty when Redis is unreachable).</summary>
    public async Task<IReadOnlyList<PendingMetaWrite>> ListAsync(CancellationToken cancellationToken)
    {
        IDatabase database;
        try
        {
            database = await redis.GetDatabaseAsync(cancellationToken);
            var entries = await database.ListRangeAsync(Key);
            return entries.Select(e => PendingMetaWrite.TryParse(e.ToString())).OfType<PendingMetaWrite>().ToList();
        }
        catch (Exception e) when (e is RedisUnavailableException or RedisConnectionException or RedisTimeoutException)
        {
            return [];
        }
    }

    /// <summary>
    /// Applies pending writes oldest first until the list is empty. <paramref name="apply"/> returns true once an entry
    /// is applied or obsolete (it is removed), false when MongoDB refused it as invalid (it moves to the refused list),
    /// and throws when it cannot tell (MongoDB unreachable, or any other error): the entry then stays at the head for
    /// the next replay and the exception propagates. Returns how many were removed; 0 when Redis is unreachable.
    /// </summary>
    public async Task<int> ReplayAsync(Func<PendingMetaWrite, CancellationToken, Task<bool>> apply, CancellationToken cancellationToken)
    {
        IDatabase database;
        try
        {
            database = await redis.GetDatabaseAsync(cancellationToken);
            if (await database.ListLengthAsync(Key) == 0)
            {
                return 0;
            }
        }
        catch (Exception e) when (e is RedisUnavailableException or RedisConnectionException or RedisTimeoutException)
        {
            return 0;
        }

        var applied = 0;
        while (true)
        {
            var head = await Guard(() => database.ListGetByIndexAsync(Key, 0));
            if (head.IsNull)
            {
                return applied;
            }

            var write = PendingMetaWrite.TryParse(head.ToString());
            if (write is null || !await apply(write, cancellationToken))
            {
                await Guard(() => database.ScriptEvaluateAsync(MoveHeadScript, [Key, RefusedKey], [head]));
                continue;
            }

            await Guard(() => database.ScriptEvaluateAsync(PopIfHeadScript, [Key], [head]));
            applied++;
        }
    }

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
}

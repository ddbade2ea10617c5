using MongoDB.Bson;
using MongoDB.Bson.IO;
using MongoDB.Driver;
using StackExchange.Redis;

namespace TeleGuard.Backup.Storage;

/// <summary>
/// Where sink results wait while MongoDB is unreachable (SYSTEM.md §3): a Redis list of the <c>backups_meta</c> writes
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

/// <summary>One deferred <c>backups_meta</c> write: a sink's outcome, its retry error, or where its copy is.</summary>
public sealed record PendingMetaWrite(string Kind, string SnapshotId, string Sink, DateTime At, string? Status, string? Error, BsonDocument? Location)
{
    public const string Outcome = "outcome";
    public const string RetryError = "error";
    public const string SinkLocation = "location";

    public BsonDocument ToBsonDocument() => new()
    {
        { "kind", Kind },
        { "snapshotId", SnapshotId },
        { "sink", Sink },
        { "at", new BsonDateTime(At) },
        { "status", (BsonValue?)Status ?? BsonNull.Value },
        { "error", (BsonValue?)Error ?? BsonNull.Value },
        { "location", (BsonValue?)Location ?? BsonNull.Value },
    };

    /// <summary>The entry stored as <paramref name="json"/>, or null when it is not one (a damaged entry is never replayed).</summary>
    public static PendingMetaWrite? TryParse(string json)
    {
        try
        {
            return FromBsonDocument(BsonDocument.Parse(json));
        }
        catch (Exception e) when (e is FormatException or InvalidCastException or KeyNotFoundException or ArgumentException)
        {
            return null;
        }
    }

    public static PendingMetaWrite FromBsonDocument(BsonDocument document) => new(
        document["kind"].AsString,
        document["snapshotId"].AsString,
        document["sink"].AsString,
        document["at"].ToUniversalTime(),
        document["status"].IsBsonNull ? null : document["status"].AsString,
        document["error"].IsBsonNull ? null : document["error"].AsString,
        document["location"].IsBsonNull ? null : document["location"].AsBsonDocument);
}

public static class MongoFaults
{
    /// <summary>
    /// MongoDB evaluated the write and rejected it as invalid (a write error such as a failed document validation):
    /// trying it again gives the same answer. Anything else, a state change or an error not known here, may pass later.
    /// </summary>
    public static bool IsRefusal(Exception e) => e is MongoWriteException { WriteError: not null } or InvalidDataException;

    /// <summary>MongoDB could not be reached (no server selected, connection lost, no primary), as opposed to a rejected operation.</summary>
    public static bool IsUnreachable(Exception e) =>
        e is MongoConnectionException or TimeoutException or MongoNotPrimaryException or MongoNodeIsRecoveringException
            or MongoWaitQueueFullException
        || (e.InnerException is { } inner && IsUnreachable(inner));
}

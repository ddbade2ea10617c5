using MongoDB.Bson;
using MongoDB.Driver;

namespace TeleGuard.Backup.TestSupport;

public static class ClusterTimes
{
    /// <summary>
    /// The cluster time of the server now (the operation time of a command run in a session; replica sets only), as
    /// <see cref="BsonTimestamp.Value"/>: to check that a snapshot's cluster time lies between two moments of a test.
    /// </summary>
    public static async Task<long> NowAsync(IMongoClient client)
    {
        using var session = await client.StartSessionAsync();
        await client.GetDatabase("admin").RunCommandAsync<BsonDocument>(session, new BsonDocument("ping", 1));
        return session.OperationTime?.Value ?? throw new InvalidOperationException("The server reported no operation time: it is not a replica set.");
    }
}

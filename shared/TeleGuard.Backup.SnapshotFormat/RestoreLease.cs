using MongoDB.Bson;
using MongoDB.Driver;

namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>
/// One restore at a time per target database: a lease document in <c>teleguard.restore.lease</c>, renewed while the
/// restore runs and released at its end. A second restore is refused while the lease is held; once it expires (its
/// holder was killed) the next restore takes it and cleans up after the dead one. Work collections of other runs are
/// touched only by the lease holder, so a live restore's work is never mistaken for a dead one's.
/// </summary>
public sealed class RestoreLease : IAsyncDisposable
{
    public static readonly TimeSpan Length = TimeSpan.FromSeconds(60);

    private readonly IMongoCollection<BsonDocument> _leases;
    private readonly string _run;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _renewal;

    private RestoreLease(IMongoCollection<BsonDocument> leases, string run)
    {
        _leases = leases;
        _run = run;
        _renewal = RenewAsync();
    }

    public static async Task<RestoreLease> TakeAsync(IMongoDatabase database, string run, CancellationToken cancellationToken)
    {
        var leases = database.GetCollection<BsonDocument>(RestoreWorkCollections.LeaseCollection);
        var now = DateTime.UtcNow;
        try
        {
            await leases.UpdateOneAsync(
                new BsonDocument { { "_id", "restore" }, { "until", new BsonDocument("$lt", now) } },
                new BsonDocument("$set", new BsonDocument { { "run", run }, { "until", now + Length }, { "host", Environment.MachineName }, { "since", now } }),
                new UpdateOptions { IsUpsert = true }, cancellationToken);
        }
        catch (MongoWriteException e) when (e.WriteError.Category == ServerErrorCategory.DuplicateKey)
        {
            var holder = await leases.Find(new BsonDocument("_id", "restore")).FirstOrDefaultAsync(cancellationToken);
            throw new InvalidOperationException(
                $"Another restore into {database.DatabaseNamespace.DatabaseName} is running (run {holder?.GetValue("run", "?")} on {holder?.GetValue("host", "?")}, " +
                $"since {holder?.GetValue("since", BsonNull.Value)}); wait for it to end. If it was killed, its lease expires by {holder?.GetValue("until", BsonNull.Value)}.");
        }

        return new RestoreLease(leases, run);
    }

    private async Task RenewAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(Length / 4, _stop.Token);
                await _leases.UpdateOneAsync(new BsonDocument { { "_id", "restore" }, { "run", _run } },
                    new BsonDocument("$set", new BsonDocument("until", DateTime.UtcNow + Length)), cancellationToken: _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (MongoException)
            {
                // Tried again at the next quarter; the restore's own commands meet the same fault and fail it.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _renewal;
        await _leases.DeleteOneAsync(new BsonDocument { { "_id", "restore" }, { "run", _run } });
        if (await _leases.CountDocumentsAsync(FilterDefinition<BsonDocument>.Empty) == 0)
        {
            await _leases.Database.DropCollectionAsync(RestoreWorkCollections.LeaseCollection);
        }

        _stop.Dispose();
    }
}

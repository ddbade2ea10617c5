using MongoDB.Driver;

namespace TeleGuard.Backup.Storage;

/// <summary>
/// For destinations that copy increments in batches rather than one by one (Telegram): an increment is first marked
/// due (<c>sinks.NAME.status: running</c>), and a batch later records the copy of several at once.
/// </summary>
public sealed partial class IncrementsStore
{
    /// <summary>
    /// Marks the increment as due in <paramref name="sink"/> unless the sink already has a record of it (a redelivered
    /// announcement changes nothing). False when the increment is unknown or was already marked.
    /// </summary>
    public async Task<bool> MarkSinkDueAsync(string incrementId, string sink, DateTime at, CancellationToken cancellationToken)
    {
        var result = await _increments.UpdateOneAsync(
            Increment.Eq(r => r.Kind, IncrementRecord.IncrementKind) & Increment.Eq(r => r.Id, incrementId) & Increment.Exists($"sinks.{sink}", false),
            Builders<IncrementRecord>.Update.Set($"sinks.{sink}.status", SinkStatus.Running).Set($"sinks.{sink}.at", at),
            cancellationToken: cancellationToken);
        return result.ModifiedCount == 1;
    }

    /// <summary>Increments of the database due in <paramref name="sink"/> (marked, not yet copied), in chain and sequence order.</summary>
    public async Task<List<IncrementRecord>> ListSinkDueAsync(string databaseName, string sink, CancellationToken cancellationToken) =>
        await _increments.Find(OwnIncrements(databaseName) & Increment.Eq($"sinks.{sink}.status", SinkStatus.Running))
            .Sort(Builders<IncrementRecord>.Sort.Ascending(r => r.Chain).Ascending(r => r.Sequence))
            .ToListAsync(cancellationToken);

    /// <summary>Increments of the database whose copy in <paramref name="sink"/> succeeded, in chain and sequence order.</summary>
    public async Task<List<IncrementRecord>> ListSinkCopiedAsync(string databaseName, string sink, CancellationToken cancellationToken) =>
        await _increments.Find(OwnIncrements(databaseName) & Increment.Eq($"sinks.{sink}.status", SinkStatus.Succeeded))
            .Sort(Builders<IncrementRecord>.Sort.Ascending(r => r.Chain).Ascending(r => r.Sequence))
            .ToListAsync(cancellationToken);

    /// <summary>Records that a batch copied these increments to <paramref name="sink"/>, at <paramref name="location"/> (idempotent).</summary>
    public Task RecordSinkBatchCopiedAsync(IReadOnlyList<string> incrementIds, string sink, SinkLocation location, DateTime at, CancellationToken cancellationToken) =>
        _increments.UpdateManyAsync(
            Increment.Eq(r => r.Kind, IncrementRecord.IncrementKind) & Increment.In(r => r.Id, incrementIds),
            Builders<IncrementRecord>.Update.Set($"sinks.{sink}.status", SinkStatus.Succeeded).Set($"sinks.{sink}.at", at)
                .Set($"sinks.{sink}.location", location.ToBsonDocument()).Unset($"sinks.{sink}.error"),
            cancellationToken: cancellationToken);

    /// <summary>
    /// Increments a batch could not copy for good (an unusable artifact, or retrying is over): failed with the error,
    /// never retried. A recorded success is never overwritten. <paramref name="error"/> must hold no secret.
    /// </summary>
    public Task RecordSinkFailedAsync(IReadOnlyList<string> incrementIds, string sink, string error, DateTime at, CancellationToken cancellationToken) =>
        _increments.UpdateManyAsync(
            Increment.Eq(r => r.Kind, IncrementRecord.IncrementKind) & Increment.In(r => r.Id, incrementIds) & Increment.Ne($"sinks.{sink}.status", SinkStatus.Succeeded),
            Builders<IncrementRecord>.Update.Set($"sinks.{sink}.status", SinkStatus.Failed).Set($"sinks.{sink}.at", at).Set($"sinks.{sink}.error", error),
            cancellationToken: cancellationToken);
}

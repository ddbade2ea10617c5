using System.Globalization;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;
using Xunit;

namespace TeleGuard.Backup.TestSupport;

/// <summary>
/// Increments written by <see cref="RecordedHistory"/>, stored and announced as the change recorder does, for the destination
/// tests: waiting for a destination's outcome and restoring to a time.
/// </summary>
public static class AnnouncedIncrements
{
    /// <summary>Stores the increment in the artifact store and backups_meta as the recorder does; returns its announcement.</summary>
    public static async Task<IncrementCreated> StoreAsync(IArtifactStore store, IncrementsStore increments, ExtractedIncrement increment)
    {
        var manifest = increment.Manifest;
        var stored = await store.SaveAsync(manifest.IncrementId,
            (stream, ct) => IncrementArchive.WriteAsync(manifest, increment.EventsFile, stream, ct), CancellationToken.None);
        Assert.True(await increments.TryInsertAsync(new IncrementRecord
        {
            Id = manifest.IncrementId, Database = manifest.Database, Chain = manifest.Chain, Sequence = manifest.Sequence, BaseSnapshotId = manifest.BaseSnapshotId,
            From = ChangeEventLine.ToBsonTimestamp(manifest.From), To = ChangeEventLine.ToBsonTimestamp(manifest.To), Events = manifest.Events,
            Sha256 = manifest.Sha256, PreviousSha256 = manifest.PreviousSha256, ClosedAt = manifest.ClosedAt.UtcDateTime,
            Artifact = new ArtifactRecord { Location = stored.Location, Size = stored.Size, Sha256 = stored.Sha256 },
            ResumeToken = new BsonDocument("_data", "test"), Recorder = "test",
        }, CancellationToken.None));
        return new IncrementCreated(manifest.IncrementId, manifest.Chain, manifest.Sequence, manifest.BaseSnapshotId, manifest.ClosedAt,
            manifest.From.T, manifest.To.T, manifest.Events, stored.Location, stored.Size, stored.Sha256);
    }

    /// <summary>Stores each increment in order, as <see cref="StoreAsync"/> does; returns their announcements, none published yet.</summary>
    public static async Task<List<IncrementCreated>> StoreAllAsync(IArtifactStore store, IncrementsStore increments, IEnumerable<ExtractedIncrement> written)
    {
        var announced = new List<IncrementCreated>();
        foreach (var increment in written)
        {
            announced.Add(await StoreAsync(store, increments, increment));
        }

        return announced;
    }

    /// <summary>Waits until <paramref name="sink"/> has an outcome for the increment (succeeded or failed); returns its record.</summary>
    public static Task<IncrementRecord> CopiedAsync(IncrementsStore increments, string sink, string incrementId, TimeSpan timeout) =>
        TestHosts.EventuallyAsync(async () => await increments.GetAsync(incrementId, CancellationToken.None) is { } r
            && r.Sinks.GetValueOrDefault(sink)?.Status is SinkStatus.Succeeded or SinkStatus.Failed ? r : null, timeout, $"increment {incrementId} on {sink}");

    /// <summary>Waits until <paramref name="sink"/> is no longer running the increment: parked for a predecessor, or settled.</summary>
    public static Task<SinkRecord> ParkedOrSettledAsync(IncrementsStore increments, string sink, string incrementId, TimeSpan timeout) =>
        TestHosts.EventuallyAsync(async () => await increments.GetAsync(incrementId, CancellationToken.None) is { } r
            && r.Sinks.GetValueOrDefault(sink) is { } copy && copy.Status != SinkStatus.Running ? copy : null,
            timeout, $"increment {incrementId} to be parked or settled");

    /// <summary>What a restore of everything gives back: the database's content without the live backups_meta.</summary>
    public static async Task<SortedDictionary<string, List<byte[]>>> BackedUpContentAsync(IMongoDatabase database)
    {
        var content = await RecordedHistory.ContentAsync(database);
        content.Remove("backups_meta");
        return content;
    }

    /// <summary>A fresh, empty database to restore into: its URI (for <c>--to-uri</c>) and the database itself.</summary>
    public static async Task<(string Uri, IMongoDatabase Database)> RestoreTargetAsync()
    {
        var uri = await TestServices.MongoUriAsync();
        return (uri, new MongoClient(uri).GetDatabase(MongoUrl.Create(uri).DatabaseName));
    }

    /// <summary>Waits until the server's cluster time is in a later second than <paramref name="after"/>.</summary>
    public static async Task NextSecondAsync(IMongoClient client, ClusterTimestamp after)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while ((uint)new BsonTimestamp(await ClusterTimes.NowAsync(client)).Timestamp <= after.T)
        {
            Assert.True(DateTime.UtcNow < deadline, "the server's cluster time did not reach the next second");
            await Task.Delay(100);
        }
    }

    /// <summary>The time as <c>--to-time</c> takes it (the whole second).</summary>
    public static string Iso(ClusterTimestamp time) =>
        DateTimeOffset.FromUnixTimeSeconds(time.T).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}

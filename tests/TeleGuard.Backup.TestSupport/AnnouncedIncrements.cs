using System.Globalization;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;
using Xunit;

namespace TeleGuard.Backup.TestSupport;

/// <summary>Increments written by <see cref="RecordedHistory"/>, stored and announced as the change recorder does, for the destination tests.</summary>
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

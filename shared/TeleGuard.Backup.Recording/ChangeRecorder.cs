using MassTransit;
using Microsoft.Extensions.Options;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Recording;

/// <summary>
/// Tails the database's change stream into increments (docs/increment-format.md). One instance per database records,
/// holding a Redis lease; others wait as hot standbys. Each increment is saved to the artifact store, then recorded in
/// backups_meta (insert only: a second writer of the same sequence is refused, so two recorders never fork the chain),
/// then announced. The record carries the resume token, so a restart continues exactly after the last recorded
/// increment: what was read but not recorded is read again from the server's history. When that history is gone the
/// gap is recorded, alerted, a full snapshot requested, and a new chain starts from it.
/// </summary>
public sealed partial class ChangeRecorder(
    IMongoClient client,
    IOptions<MongoOptions> mongo,
    IOptions<RecorderOptions> options,
    IOptions<WorkDirectoryOptions> work,
    BackupsMetaStore meta,
    IncrementsStore increments,
    IArtifactStore artifacts,
    RedisLocks locks,
    IBus bus,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<ChangeRecorder> logger) : BackgroundService
{
    /// <summary>The server's answer when the resume point is older than the history it keeps.</summary>
    public const int ChangeStreamHistoryLost = 286;

    /// <summary>The server's answer when the resume token names no event it knows (e.g. after a restore of the server).</summary>
    public const int ChangeStreamFatalError = 280;

    /// <summary>A standalone server has no change streams (and no oplog to keep history in).</summary>
    public const int ChangeStreamsNeedReplicaSet = 40573;

    private static readonly TimeSpan Retry = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan SnapshotPoll = TimeSpan.FromSeconds(2);

    private readonly string _instance = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}"[..^24];
    private string Database => mongo.Value.DatabaseName;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await lifetime.WaitForStartedAsync(stoppingToken); // the bus is up: announcements can go out
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (!await IsReplicaSetAsync(stoppingToken))
                {
                    LogNoReplicaSet(logger, Database);
                    return;
                }

                await using var lease = await AcquireLeaseAsync(stoppingToken);
                LogRecording(logger, Database, _instance);
                await RecordAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (MongoCommandException e) when (e.Code == ChangeStreamsNeedReplicaSet)
            {
                LogNoReplicaSet(logger, Database);
                return;
            }
            catch (RecorderFencedException e)
            {
                LogFenced(logger, Database, e.Message);
            }
            catch (Exception e)
            {
                LogRecordingFailed(logger, Database, ErrorText.OneLine(e));
                await Task.Delay(Retry, time, stoppingToken);
            }
        }
    }

    // Change streams need an oplog: a replica set (of one member, at least) or a sharded cluster.
    private async Task<bool> IsReplicaSetAsync(CancellationToken cancellationToken)
    {
        var hello = await client.GetDatabase("admin").RunCommandAsync<BsonDocument>(new BsonDocument("hello", 1), cancellationToken: cancellationToken);
        return hello.Contains("setName") || hello.GetValue("msg", "").ToString() == "isdbgrid";
    }

    // A standby waits here; Redis being away is not a reason to stop recording (the insert-only records fence writers).
    private async Task<RedisLease?> AcquireLeaseAsync(CancellationToken cancellationToken)
    {
        var announced = false;
        while (true)
        {
            try
            {
                return await locks.AcquireAsync($"recorder:{mongo.Value.DatabaseIdentity}", options.Value.Lease, options.Value.Lease * 2, cancellationToken);
            }
            catch (TimeoutException)
            {
                if (!announced)
                {
                    LogStandingBy(logger, Database);
                    announced = true;
                }
            }
        }
    }

    private async Task RecordAsync(CancellationToken cancellationToken)
    {
        var start = await FindStartAsync(cancellationToken);
        var database = client.GetDatabase(Database);
        var interval = options.Value.IncrementInterval;
        var position = start;
        var reopenAfter = start.ResumeToken;
        ClusterTimestamp? lastEventSeen = null;
        var lastEventInTransaction = false;
        WorkFolder? folder = null;
        OpenIncrement? increment = null;
        try
        {
            while (true)
            {
                using var cursor = await WatchAsync(database, reopenAfter, reopenAfter is null ? start.StartAfterTime : null, cancellationToken);
                var invalidated = false;
                while (!invalidated && await cursor.MoveNextAsync(cancellationToken))
                {
                    if (increment is null)
                    {
                        folder = WorkFolder.Create(work.Value.Path, "recorder", IncrementManifest.IdOf(position.Chain, position.Sequence));
                        increment = new OpenIncrement(folder.Path, position.Chain, position.Sequence, position.From, position.PreviousSha256, time.GetUtcNow());
                    }

                    foreach (var change in cursor.Current)
                    {
                        if (change["operationType"].AsString == "invalidate")
                        {
                            // A database stream ends after dropDatabase; the next one starts after the invalidate event,
                            // and the events of the open increment stay in it.
                            reopenAfter = change["_id"].AsBsonDocument;
                            invalidated = true;
                            break;
                        }

                        increment.Append(change);
                        lastEventSeen = increment.LastEventTime;
                        lastEventInTransaction = change.Contains("txnNumber");
                    }

                    if (invalidated)
                    {
                        break;
                    }

                    var token = cursor.GetResumeToken();
                    var reached = ResumeTokenTime.TryRead(token);
                    // Close only at a point up to which every event has been returned. Every write outside a transaction
                    // has a cluster time of its own; the events of one transaction share one, and the batch may have
                    // ended inside it: then wait until the stream has moved past it.
                    var closable = reached is not null && IncrementManifest.Compare(reached, position.From) >= 0
                        && (lastEventSeen is null || IncrementManifest.Compare(reached, lastEventSeen) > 0
                            || (!lastEventInTransaction && IncrementManifest.Compare(reached, lastEventSeen) == 0));
                    if (closable && (time.GetUtcNow() - increment.OpenedAt >= interval || increment.Bytes >= options.Value.MaxIncrementBytes))
                    {
                        var manifest = increment.Close(reached!, await BaseSnapshotAsync(position.From, position.Chain, cancellationToken), Database, time.GetUtcNow());
                        await SaveRecordAnnounceAsync(manifest, increment.EventsFile, token, cancellationToken);
                        increment.Dispose();
                        folder!.Dispose();
                        (increment, folder) = (null, null);
                        position = position with { Sequence = position.Sequence + 1, From = manifest.To, PreviousSha256 = manifest.Sha256 };
                    }
                }

                if (!invalidated)
                {
                    throw new InvalidOperationException("The change stream was closed by the server.");
                }
            }
        }
        catch (MongoCommandException e) when (e.Code is ChangeStreamHistoryLost or ChangeStreamFatalError)
        {
            await RecordGapAsync(position.Chain, position.From, e.Code, cancellationToken);
        }
        finally
        {
            increment?.Dispose();
            folder?.Dispose();
        }
    }

    private static Task<IChangeStreamCursor<BsonDocument>> WatchAsync(IMongoDatabase database, BsonDocument? resumeAfter, ClusterTimestamp? startAfterTime, CancellationToken cancellationToken)
    {
        var pipeline = new EmptyPipelineDefinition<ChangeStreamDocument<BsonDocument>>()
            // The system's own records change with every increment: recording them would never let the stream rest.
            .Match(new BsonDocument("ns.coll", new BsonDocument("$ne", BackupsMetaStore.CollectionName)))
            .As<ChangeStreamDocument<BsonDocument>, ChangeStreamDocument<BsonDocument>, BsonDocument>();
        var watch = new ChangeStreamOptions
        {
            FullDocument = ChangeStreamFullDocumentOption.WhenAvailable,
            ShowExpandedEvents = true,
            MaxAwaitTime = TimeSpan.FromSeconds(1),
            BatchSize = 1000,
        };
        if (resumeAfter is not null)
        {
            // StartAfter also continues after an invalidate event; after any other token it is the same as ResumeAfter.
            watch.StartAfter = resumeAfter;
        }
        else if (startAfterTime is { } t)
        {
            // The snapshot holds every write up to its cluster time: the chain starts just after it.
            watch.StartAtOperationTime = new BsonTimestamp((int)t.T, (int)t.I + 1);
        }

        return database.WatchAsync(pipeline, watch, cancellationToken);
    }

    private async Task SaveRecordAnnounceAsync(IncrementManifest manifest, string eventsFile, BsonDocument resumeToken, CancellationToken cancellationToken)
    {
        var stored = await artifacts.SaveAsync(manifest.IncrementId, (output, ct) => IncrementArchive.WriteAsync(manifest, eventsFile, output, ct), cancellationToken);
        var record = new IncrementRecord
        {
            Id = manifest.IncrementId,
            Database = manifest.Database,
            Chain = manifest.Chain,
            Sequence = manifest.Sequence,
            BaseSnapshotId = manifest.BaseSnapshotId,
            From = ChangeEventLine.ToBsonTimestamp(manifest.From),
            To = ChangeEventLine.ToBsonTimestamp(manifest.To),
            Events = manifest.Events,
            Sha256 = manifest.Sha256,
            PreviousSha256 = manifest.PreviousSha256,
            ClosedAt = manifest.ClosedAt.UtcDateTime,
            Artifact = new ArtifactRecord { Location = stored.Location, Size = stored.Size, Sha256 = stored.Sha256 },
            ResumeToken = resumeToken,
            Recorder = _instance,
        };
        if (!await increments.TryInsertAsync(record, cancellationToken))
        {
            await artifacts.DeleteAsync(stored.Location, CancellationToken.None);
            throw new RecorderFencedException($"increment {manifest.IncrementId} was recorded by another recorder; continuing from its records");
        }

        await AnnounceAsync(record, cancellationToken);
        LogIncrementRecorded(logger, manifest.IncrementId, manifest.Events, manifest.Bytes);
    }

    private async Task AnnounceAsync(IncrementRecord record, CancellationToken cancellationToken)
    {
        await bus.Publish(new IncrementCreated(record.Id, record.Chain, record.Sequence, record.BaseSnapshotId,
            new DateTimeOffset(DateTime.SpecifyKind(record.ClosedAt, DateTimeKind.Utc)), record.From.Timestamp, record.To.Timestamp,
            record.Events, record.Artifact.Location, record.Artifact.Size, record.Artifact.Sha256), cancellationToken);
        await increments.MarkAnnouncedAsync(record.Id, time.GetUtcNow().UtcDateTime, cancellationToken);
    }

    private async Task<string> BaseSnapshotAsync(ClusterTimestamp from, string chain, CancellationToken cancellationToken) =>
        (await meta.FindNewestWithClusterTimeAsync(after: null, atOrBefore: ChangeEventLine.ToBsonTimestamp(from), cancellationToken))?.Id ?? chain;

    /// <summary>Where recording goes on: after the last recorded increment, or a new chain from a snapshot.</summary>
    private async Task<ChainPosition> FindStartAsync(CancellationToken cancellationToken)
    {
        var latest = await increments.FindLatestAsync(Database, cancellationToken);
        var openGap = (await increments.ListGapsAsync(Database, cancellationToken)).LastOrDefault(g => g.NextChain is null);
        if (openGap is not null && latest is not null && latest.Chain != openGap.Chain && latest.ClosedAt >= openGap.DetectedAt)
        {
            // A chain started after the gap (a crash came before the gap was told so).
            await increments.SetGapNextChainAsync(openGap.Id, latest.Chain, cancellationToken);
            openGap = null;
        }

        if (openGap is null && latest is not null)
        {
            if (latest.AnnouncedAt is null)
            {
                await AnnounceAsync(latest, cancellationToken); // recorded, then the process died before announcing it
            }

            return new ChainPosition(latest.Chain, latest.Sequence + 1, ChangeEventLine.ToClusterTimestamp(latest.To), latest.Sha256, latest.ResumeToken, null);
        }

        if (openGap is not null)
        {
            await AlertGapAsync(openGap, cancellationToken);
        }

        var snapshot = await WaitForSnapshotAsync(openGap, cancellationToken);
        var snapshotTime = ChangeEventLine.ToClusterTimestamp(snapshot.Manifest!.ClusterTime!);
        if (openGap is not null)
        {
            await increments.SetGapNextChainAsync(openGap.Id, snapshot.Id, cancellationToken);
        }

        LogChainStarting(logger, Database, snapshot.Id);
        return new ChainPosition(snapshot.Id, 1, snapshotTime, null, null, snapshotTime);
    }

    // A new chain needs a snapshot taken on a replica set after the gap (any, when recording starts for the first time).
    private async Task<BackupRecord> WaitForSnapshotAsync(HistoryGapRecord? gap, CancellationToken cancellationToken)
    {
        var requested = gap?.RequestedSnapshotId is not null;
        var waitingSince = time.GetUtcNow();
        while (true)
        {
            var snapshot = await meta.FindNewestWithClusterTimeAsync(gap?.CoveredTo, atOrBefore: null, cancellationToken);
            if (snapshot is not null)
            {
                return snapshot;
            }

            if (!requested)
            {
                var id = await RequestSnapshotAsync(gap is null ? "recorder-start" : "history-lost", cancellationToken);
                if (gap is not null)
                {
                    await increments.SetGapSnapshotAsync(gap.Id, id, cancellationToken);
                }

                requested = true;
            }

            if (time.GetUtcNow() - waitingSince > TimeSpan.FromMinutes(1))
            {
                LogWaitingForSnapshot(logger, Database);
                waitingSince = time.GetUtcNow();
            }

            await Task.Delay(SnapshotPoll, time, cancellationToken);
        }
    }

    private async Task<string> RequestSnapshotAsync(string reason, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var id = SnapshotIds.FromTime(now);
        await meta.RecordRequestedAsync(id, now, reason, cancellationToken);
        await bus.Publish(new SnapshotRequested(id, now, reason), cancellationToken);
        LogSnapshotRequested(logger, Database, id, reason);
        return id;
    }

    private async Task RecordGapAsync(string chain, ClusterTimestamp coveredTo, int code, CancellationToken cancellationToken)
    {
        var gap = await increments.RecordGapAsync(new HistoryGapRecord
        {
            Id = HistoryGapRecord.IdOf(Database, chain),
            Database = Database,
            Chain = chain,
            CoveredTo = ChangeEventLine.ToBsonTimestamp(coveredTo),
            DetectedAt = time.GetUtcNow().UtcDateTime,
            Reason = code == ChangeStreamHistoryLost
                ? "the server no longer holds the change history after this point (ChangeStreamHistoryLost)"
                : "the server cannot resume the change stream from the recorded point (ChangeStreamFatalError)",
        }, cancellationToken);
        LogGap(logger, Database, chain, DescribeTime(coveredTo));
        await AlertGapAsync(gap, cancellationToken);
    }

    // Raised until it is known to be out (a crash between recording the gap and alerting alerts on the next start).
    private async Task AlertGapAsync(HistoryGapRecord gap, CancellationToken cancellationToken)
    {
        if (gap.AlertedAt is not null)
        {
            return;
        }

        var coveredTo = gap.CoveredTo is null ? "its start" : DescribeTime(ChangeEventLine.ToClusterTimestamp(gap.CoveredTo));
        await bus.Publish(new BackupAlertRaised(gap.Id, "gap", gap.Chain,
            $"Point-in-time history of {Database} broke after {coveredTo}: {gap.Reason}. No restore to a time between then and the next full snapshot is possible; a full snapshot was requested and recording starts again from it.",
            time.GetUtcNow()), cancellationToken);
        await increments.MarkGapAlertedAsync(gap.Id, time.GetUtcNow().UtcDateTime, cancellationToken);
    }

    private static string DescribeTime(ClusterTimestamp t) =>
        DateTimeOffset.FromUnixTimeSeconds(t.T).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    /// <param name="StartAfterTime">For a new chain: the snapshot's cluster time, after which the stream starts.</param>
    private sealed record ChainPosition(string Chain, int Sequence, ClusterTimestamp From, string? PreviousSha256, BsonDocument? ResumeToken, ClusterTimestamp? StartAfterTime);

    [LoggerMessage(Level = LogLevel.Information, Message = "Recording the change history of {Database} (instance {Instance})")]
    private static partial void LogRecording(ILogger logger, string database, string instance);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Database} is on a standalone server: it has no change streams, so nothing is recorded for point-in-time restore (run MongoDB as a replica set, even of one member)")]
    private static partial void LogNoReplicaSet(ILogger logger, string database);

    [LoggerMessage(Level = LogLevel.Information, Message = "Another recorder holds {Database}: standing by")]
    private static partial void LogStandingBy(ILogger logger, string database);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recorder of {Database} stopped: {Reason}")]
    private static partial void LogFenced(ILogger logger, string database, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Recording the change history of {Database} failed; resuming from the last recorded increment: {Error}")]
    private static partial void LogRecordingFailed(ILogger logger, string database, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Recorded increment {IncrementId}: {Events} events, {Bytes} bytes")]
    private static partial void LogIncrementRecorded(ILogger logger, string incrementId, long events, long bytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "Starting a chain of increments of {Database} from snapshot {SnapshotId}")]
    private static partial void LogChainStarting(ILogger logger, string database, string snapshotId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Waiting for a snapshot of {Database} taken on a replica set to start recording from")]
    private static partial void LogWaitingForSnapshot(ILogger logger, string database);

    [LoggerMessage(Level = LogLevel.Information, Message = "Requested snapshot {SnapshotId} of {Database} ({Reason})")]
    private static partial void LogSnapshotRequested(ILogger logger, string database, string snapshotId, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "The change history of {Database} broke: chain {Chain} ends at {CoveredTo}")]
    private static partial void LogGap(ILogger logger, string database, string chain, string coveredTo);
}

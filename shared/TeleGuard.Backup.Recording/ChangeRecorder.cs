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

    /// <summary>While the broker is away MassTransit holds a publish; recording goes on and the announcement waits.</summary>
    private static readonly TimeSpan PublishTimeout = TimeSpan.FromSeconds(10);

    private readonly string _instance = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}"[..^24];
    private string? _requestedForFirstChain;

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
                await Task.Delay(Retry, time, stoppingToken); // the other recorder goes on meanwhile
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
        await AnnouncePendingAsync(cancellationToken); // what a predecessor recorded but could not announce
        var database = client.GetDatabase(Database);
        var interval = options.Value.IncrementInterval;
        var position = start;
        var reopenAfter = start.ResumeToken;
        ClusterTimestamp? lastEventSeen = null;
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
                    }

                    if (invalidated)
                    {
                        break;
                    }

                    var token = cursor.GetResumeToken();
                    var reached = ResumeTokenTime.TryRead(token);
                    // Close only where the stream has been read to: at or past the last event returned. Events that share
                    // a cluster time (a transaction, a batched multi-document delete) may continue in the next batch: they
                    // then open the next increment at exactly its `from` (docs/increment-format.md), and the resume token,
                    // which names an event within them, continues right after the last one recorded.
                    var closable = reached is not null && IncrementManifest.Compare(reached, position.From) >= 0
                        && (lastEventSeen is null || IncrementManifest.Compare(reached, lastEventSeen) >= 0);
                    if (closable && (time.GetUtcNow() - increment.OpenedAt >= interval || increment.Bytes >= options.Value.MaxIncrementBytes))
                    {
                        var manifest = increment.Close(reached!, await BaseSnapshotAsync(position.From, position.Chain, cancellationToken), Database, time.GetUtcNow());
                        await SaveRecordAnnounceAsync(manifest, increment.EventsFile, token, position.AfterGap, cancellationToken);
                        increment.Dispose();
                        folder!.Dispose();
                        (increment, folder) = (null, null);
                        position = position with { Sequence = position.Sequence + 1, From = manifest.To, PreviousSha256 = manifest.Sha256, AfterGap = null };
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
            .Match(new BsonDocument
            {
                { "ns.coll", new BsonDocument("$ne", BackupsMetaStore.CollectionName) },
                // Only what the format records (and invalidate, which ends a stream): a sharded cluster's own events
                // (shardCollection, reshardCollection …) change no data and would make the increment unreadable.
                { "operationType", new BsonDocument("$in", new BsonArray(ChangeEventLine.OperationTypes.Append("invalidate"))) },
            })
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

    private async Task SaveRecordAnnounceAsync(IncrementManifest manifest, string eventsFile, BsonDocument resumeToken, string? afterGap, CancellationToken cancellationToken)
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
            LastEventTime = manifest.LastEventTime is { } last ? ChangeEventLine.ToBsonTimestamp(last) : null,
            Sha256 = manifest.Sha256,
            PreviousSha256 = manifest.PreviousSha256,
            ClosedAt = manifest.ClosedAt.UtcDateTime,
            Artifact = new ArtifactRecord { Location = stored.Location, Size = stored.Size, Sha256 = stored.Sha256 },
            ResumeToken = resumeToken,
            Recorder = _instance,
        };
        if (!await increments.TryInsertAsync(record, cancellationToken))
        {
            // Ours after all (an insert retried after its reply was lost), or another recorder's: only then is ours surplus.
            if ((await increments.GetAsync(record.Id, cancellationToken))?.Artifact.Location != stored.Location)
            {
                await artifacts.DeleteAsync(stored.Location, CancellationToken.None);
                throw new RecorderFencedException($"increment {manifest.IncrementId} was recorded by another recorder; continuing from its records");
            }
        }

        LogIncrementRecorded(logger, manifest.IncrementId, manifest.Events, manifest.Bytes);
        if (afterGap is not null && manifest.Sequence == 1)
        {
            await increments.SetGapNextChainAsync(afterGap, manifest.Chain, cancellationToken);
        }

        await AnnouncePendingAsync(cancellationToken);
    }

    // Announcing never holds up recording: with the broker away, increments are recorded and announced when it is back
    // (each close, and each start, announces every recorded increment not announced yet, in order).
    private async Task AnnouncePendingAsync(CancellationToken cancellationToken)
    {
        try
        {
            foreach (var record in await increments.ListUnannouncedAsync(Database, cancellationToken))
            {
                await bus.Publish(IncrementAnnouncement.Of(record), cancellationToken)
                    .WaitAsync(PublishTimeout, time, cancellationToken);
                await increments.MarkAnnouncedAsync(record.Id, time.GetUtcNow().UtcDateTime, cancellationToken);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogAnnounceDeferred(logger, ErrorText.OneLine(e));
        }
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
            return new ChainPosition(latest.Chain, latest.Sequence + 1, ChangeEventLine.ToClusterTimestamp(latest.To), latest.Sha256, latest.ResumeToken, null, null);
        }

        // A new chain: after the gap, or the first one. Which snapshot it starts from is decided once for all recorders,
        // and stays decided across restarts until its first increment is recorded.
        if (openGap is not null)
        {
            await AlertGapAsync(openGap, cancellationToken);
        }

        var startKey = openGap?.Id ?? "first";
        var chain = await increments.FindChainStartAsync(Database, startKey, cancellationToken);
        if (chain is null)
        {
            var newest = await WaitForSnapshotAsync(openGap, cancellationToken);
            chain = await increments.ClaimChainStartAsync(Database, startKey, newest.Id, cancellationToken);
        }

        var snapshot = await meta.GetAsync(chain, cancellationToken)
            ?? throw new InvalidOperationException($"Snapshot {chain}, chosen to start the chain of increments, has no record in backups_meta.");
        if (snapshot.Manifest?.ClusterTime is not { } clusterTime)
        {
            // Chosen by an earlier version, which took a snapshot read at no cluster time for one that was (no increment of
            // its chain exists, or recording would have continued above): the choice is withdrawn and made again.
            await AlertNoBaseAsync(snapshot.Id, snapshot.Manifest?.ConsistencyReason, cancellationToken);
            await increments.ReleaseChainStartAsync(Database, startKey, chain, cancellationToken);
            throw new InvalidOperationException($"Snapshot {chain}, chosen to start the chain of increments, was not read at one cluster time; a snapshot that was will be chosen instead.");
        }

        var snapshotTime = ChangeEventLine.ToClusterTimestamp(clusterTime);
        LogChainStarting(logger, Database, snapshot.Id);
        return new ChainPosition(snapshot.Id, 1, snapshotTime, null, null, snapshotTime, openGap?.Id);
    }

    // A new chain needs a snapshot taken on a replica set after the gap (any, when recording starts for the first time).
    // One request per gap (kept on the gap) or per process start; asked again only when the requested one failed.
    private async Task<BackupRecord> WaitForSnapshotAsync(HistoryGapRecord? gap, CancellationToken cancellationToken)
    {
        var requested = gap?.RequestedSnapshotId ?? _requestedForFirstChain;
        var waitingSince = time.GetUtcNow();
        string? alertedUnusable = null;
        while (true)
        {
            var snapshot = await meta.FindNewestWithClusterTimeAsync(gap?.CoveredTo, atOrBefore: null, cancellationToken);
            if (snapshot?.Manifest?.ClusterTime is not null)
            {
                return snapshot;
            }

            var requestedRecord = requested is null ? null : await meta.GetAsync(requested, cancellationToken);
            if (requestedRecord?.Manifest is { ClusterTime: null } unusable && requested != alertedUnusable)
            {
                // Exported, but not at one cluster time (it outlasted the server's snapshot window): no chain can start
                // from it, and asking again at once would most likely end the same way. Said once per such snapshot; the
                // next scheduled snapshot read at one cluster time starts the chain.
                await AlertNoBaseAsync(requestedRecord.Id, unusable.ConsistencyReason, cancellationToken);
                alertedUnusable = requested;
            }

            if (requested is null || requestedRecord?.Status == BackupStatus.Failed)
            {
                requested = await RequestSnapshotAsync(gap is null ? "recorder-start" : "history-lost", cancellationToken);
                if (gap is not null)
                {
                    await increments.SetGapSnapshotAsync(gap.Id, requested, cancellationToken);
                }
                else
                {
                    _requestedForFirstChain = requested;
                }
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

    // Once per snapshot across restarts and instances (claimed in Redis; without Redis possibly once per recorder start).
    private async Task AlertNoBaseAsync(string snapshotId, string? reason, CancellationToken cancellationToken)
    {
        var alertId = $"no-base:{Database}:{snapshotId}";
        bool first;
        try
        {
            first = await locks.TryClaimOnceAsync($"alert:{alertId}", TimeSpan.FromDays(7), cancellationToken);
        }
        catch (RedisUnavailableException)
        {
            first = true;
        }

        LogSnapshotNotABase(logger, Database, snapshotId, reason ?? "consistency none");
        if (!first)
        {
            return;
        }

        await bus.Publish(new BackupAlertRaised(alertId, "no-base", snapshotId,
            $"Recording the change history of {Database} cannot start: snapshot {snapshotId} was not read at one cluster time ({reason ?? "consistency none"}). " +
            "No restore to a time is possible until a snapshot is: its export must finish within the server's snapshot history window (minSnapshotHistoryWindowInSeconds). " +
            "Full restores from that snapshot are not affected.",
            time.GetUtcNow()), cancellationToken);
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
    /// <param name="AfterGap">For a new chain after a gap: the gap, told its next chain once the first increment is recorded.</param>
    private sealed record ChainPosition(string Chain, int Sequence, ClusterTimestamp From, string? PreviousSha256, BsonDocument? ResumeToken,
        ClusterTimestamp? StartAfterTime, string? AfterGap);

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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Announcing recorded increments is deferred (they are recorded; the next close or start announces them): {Error}")]
    private static partial void LogAnnounceDeferred(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Starting a chain of increments of {Database} from snapshot {SnapshotId}")]
    private static partial void LogChainStarting(ILogger logger, string database, string snapshotId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Snapshot {SnapshotId} of {Database} was not read at one cluster time ({Reason}): no chain of increments can start from it")]
    private static partial void LogSnapshotNotABase(ILogger logger, string database, string snapshotId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Waiting for a snapshot of {Database} taken on a replica set to start recording from")]
    private static partial void LogWaitingForSnapshot(ILogger logger, string database);

    [LoggerMessage(Level = LogLevel.Information, Message = "Requested snapshot {SnapshotId} of {Database} ({Reason})")]
    private static partial void LogSnapshotRequested(ILogger logger, string database, string snapshotId, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "The change history of {Database} broke: chain {Chain} ends at {CoveredTo}")]
    private static partial void LogGap(ILogger logger, string database, string chain, string coveredTo);
}

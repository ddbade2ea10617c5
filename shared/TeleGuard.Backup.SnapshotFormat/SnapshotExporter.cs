using System.Diagnostics;
using Microsoft.Extensions.Logging;
using MongoDB.Bson;
using MongoDB.Driver;

namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>
/// Exports a MongoDB database into a snapshot folder: per collection, canonical Extended JSON lines ordered by
/// <c>_id</c> (split into parts) and a metadata file with options and indexes; then <c>manifest.json</c>.
/// Streams document by document, so memory does not grow with the database. On a replica set every read happens in one
/// snapshot session (one point in time); on a standalone server there is no such guarantee and the manifest says so.
/// An export that outlasts the server's snapshot history (<c>minSnapshotHistoryWindowInSeconds</c>, 300 s by default)
/// gets <c>SnapshotTooOld</c>: it then reads that collection again and every later one without the session, and the
/// manifest says <c>none</c> with the reason (a full backup, but no point-in-time base).
/// </summary>
public sealed partial class SnapshotExporter(IMongoClient client, string databaseName, ILogger<SnapshotExporter> logger)
{
    public const string CollectionType = "collection";
    public const string ViewType = "view";
    public const string TimeSeriesType = "timeseries";

    /// <summary>What listCollections may call a collection and this exporter can take; any other type is recorded as skipped.</summary>
    public static readonly IReadOnlySet<string> ExportableTypes = new HashSet<string> { CollectionType, ViewType, TimeSeriesType };

    public async Task<SnapshotManifest> ExportAsync(
        string snapshotId, string outputDirectory, SnapshotExportOptions options, CancellationToken cancellationToken)
    {
        var startedAt = DateTimeOffset.UtcNow;
        var database = client.GetDatabase(databaseName);
        Directory.CreateDirectory(outputDirectory);

        var hello = await database.RunCommandAsync<BsonDocument>(new BsonDocument("hello", 1), cancellationToken: cancellationToken);
        var replicaSet = hello.TryGetValue("setName", out var setName) ? setName.AsString : null;
        var isSharded = hello.TryGetValue("msg", out var msg) && msg == "isdbgrid";
        var useSnapshot = replicaSet is not null || isSharded;

        using var session = useSnapshot
            ? await client.StartSessionAsync(new ClientSessionOptions { Snapshot = true }, cancellationToken)
            : null;

        // The session reads go through until the server no longer keeps the snapshot's history.
        var readSession = session;
        string? fallbackReason = null;
        var collections = await ListCollectionsAsync(database, options, cancellationToken);
        var entries = new List<CollectionEntry>(collections.Count);
        var skipped = new List<SkippedCollectionEntry>();
        var writer = new CanonicalJsonWriter();
        foreach (var info in collections)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var name = info["name"].AsString;
            if (SkipReason(info) is { } reason)
            {
                LogCollectionSkipped(logger, name, reason);
                skipped.Add(new SkippedCollectionEntry(name, info.GetValue("type", BsonNull.Value).ToString() ?? "", reason));
                continue;
            }

            var type = info.GetValue("type", CollectionType).AsString;

            try
            {
                try
                {
                    entries.Add(await ExportCollectionAsync(database, readSession, info, outputDirectory, options, writer, cancellationToken));
                }
                catch (MongoCommandException e) when (e.Code == SnapshotTooOldCode && readSession is not null)
                {
                    // The point in time is gone: this collection and the rest are read as they are now, and the manifest
                    // says so (mode none), rather than failing an export that would fail again for the same reason.
                    fallbackReason = $"SnapshotTooOld while reading {name}: the export outlasted the server's snapshot history " +
                        "(minSnapshotHistoryWindowInSeconds); it and the collections after it were read without the snapshot session";
                    LogSnapshotTooOld(logger, name);
                    readSession = null;
                    DeleteCollectionFolder(outputDirectory, name);
                    entries.Add(await ExportCollectionAsync(database, null, info, outputDirectory, options, writer, cancellationToken));
                }
            }
            catch (MongoCommandException e) when (type == TimeSeriesType)
            {
                // A server that cannot read a time-series collection in a snapshot session: say so, never drop it silently.
                LogTimeSeriesRefused(logger, name, e.Message);
                skipped.Add(new SkippedCollectionEntry(name, type, $"the server refused to read it: {e.CodeName ?? e.Message}"));
                DeleteCollectionFolder(outputDirectory, name);
            }
        }

        var consistency = session is null
            ? new SnapshotConsistency(SnapshotConsistency.None, null)
            : fallbackReason is not null
                ? new SnapshotConsistency(SnapshotConsistency.None, null, fallbackReason)
                : new SnapshotConsistency(SnapshotConsistency.Snapshot, ReadSnapshotTime(session));

        var manifest = new SnapshotManifest
        {
            SnapshotId = snapshotId,
            StartedAt = startedAt,
            FinishedAt = DateTimeOffset.UtcNow,
            Source = new SnapshotSource(databaseName, client.Settings.Servers.Select(s => $"{s.Host}:{s.Port}").ToList(), replicaSet),
            Consistency = consistency,
            Collections = entries,
            Skipped = skipped,
        };
        await File.WriteAllBytesAsync(Path.Combine(outputDirectory, SnapshotManifest.FileName), manifest.ToJsonBytes(), cancellationToken);
        return manifest;
    }

    /// <summary>Why a listCollections entry cannot be exported, or null when it can.</summary>
    public static string? SkipReason(BsonDocument collectionInfo) =>
        collectionInfo.GetValue("type", CollectionType) is { IsString: true } type && ExportableTypes.Contains(type.AsString)
            ? null
            : $"collections of type {DescribeType(collectionInfo.GetValue("type", BsonNull.Value))} are not supported by this version of the exporter";

    private static string DescribeType(BsonValue type) => type.IsString ? $"'{type.AsString}'" : $"<{type.BsonType}>";

    private static async Task<List<BsonDocument>> ListCollectionsAsync(
        IMongoDatabase database, SnapshotExportOptions options, CancellationToken cancellationToken)
    {
        using var cursor = await database.ListCollectionsAsync(cancellationToken: cancellationToken);
        var all = await cursor.ToListAsync(cancellationToken);
        if (all.Select(c => c["name"].AsString).FirstOrDefault(n => RestoreWorkCollections.IsWorkCollection(n) && n.EndsWith(".swap", StringComparison.Ordinal)) is { } marker)
        {
            // Some collections sit under temporary names: a snapshot now would silently miss them.
            throw new InvalidOperationException(
                $"A restore into database '{database.DatabaseNamespace.DatabaseName}' was cut off in the middle of its swap ({marker}): collections it moved aside are under temporary names. " +
                "Run teleguard-backup restore into this database again (it puts them back first) before the next snapshot.");
        }

        var wanted = options.Collections is { Count: > 0 } list ? new HashSet<string>(list, StringComparer.Ordinal) : null;
        var selected = all
            .Where(c => c["name"].AsString is var name
                        && !name.StartsWith("system.", StringComparison.Ordinal)
                        && !RestoreWorkCollections.IsWorkCollection(name)
                        && !options.ExcludedCollections.Contains(name)
                        && (wanted is null || wanted.Contains(name)))
            .OrderBy(c => c["name"].AsString, StringComparer.Ordinal)
            .ToList();

        if (wanted is not null)
        {
            var missing = wanted.Except(all.Select(c => c["name"].AsString)).ToList();
            if (missing.Count > 0)
            {
                throw new InvalidOperationException(
                    $"BACKUP_COLLECTIONS names collections that do not exist in database '{database.DatabaseNamespace.DatabaseName}': {string.Join(", ", missing)}.");
            }
        }

        return selected;
    }

    private async Task<CollectionEntry> ExportCollectionAsync(
        IMongoDatabase database, IClientSessionHandle? session, BsonDocument info, string outputDirectory,
        SnapshotExportOptions options, CanonicalJsonWriter writer, CancellationToken cancellationToken)
    {
        var name = info["name"].AsString;
        var type = info.GetValue("type", "collection").AsString;
        var directory = SnapshotPaths.CollectionDirectory(name);
        var stopwatch = Stopwatch.StartNew();
        Directory.CreateDirectory(Path.Combine(outputDirectory, directory));

        var holdsDocuments = type != ViewType;
        var indexes = new BsonArray();
        if (holdsDocuments)
        {
            var collection = database.GetCollection<BsonDocument>(name);
            using var indexCursor = await collection.Indexes.ListAsync(cancellationToken);
            indexes.AddRange(await indexCursor.ToListAsync(cancellationToken));
        }

        var metadata = new BsonDocument
        {
            { "name", name },
            { "type", type },
            { "options", info.GetValue("options", new BsonDocument()) },
            { "indexes", indexes },
        };
        writer.Reset();
        writer.WriteLine(metadata.ToBson());
        var metadataFile = SnapshotPaths.MetadataFile(directory);
        await File.WriteAllBytesAsync(Path.Combine(outputDirectory, metadataFile), writer.WrittenMemory, cancellationToken);
        var metadataEntry = new FileEntry(metadataFile, writer.Length, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(writer.Written)));

        using var parts = new JsonLinesPartWriter(outputDirectory, directory, options.PartSizeBytes);
        using var bsonHash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        if (holdsDocuments)
        {
            var collection = database.GetCollection<RawBsonDocument>(name);
            var findOptions = new FindOptions<RawBsonDocument>
            {
                Sort = new BsonDocument("_id", 1),
                BatchSize = options.BatchSize,
            };
            using var cursor = session is null
                ? await collection.FindAsync(FilterDefinition<RawBsonDocument>.Empty, findOptions, cancellationToken)
                : await collection.FindAsync(session, FilterDefinition<RawBsonDocument>.Empty, findOptions, cancellationToken);
            byte[] scratch = [];
            while (await cursor.MoveNextAsync(cancellationToken))
            {
                foreach (var document in cursor.Current)
                {
                    using (document)
                    {
                        var bson = RawDocumentBytes.Of(document, ref scratch);
                        writer.Reset();
                        try
                        {
                            writer.WriteLine(bson);
                        }
                        catch (FormatException e)
                        {
                            throw new InvalidDataException(
                                $"Collection {name}: the document with _id {DescribeId(document)} is not valid BSON ({e.Message}); it cannot be backed up losslessly.", e);
                        }

                        bsonHash.AppendData(bson);
                        parts.WriteLine(writer.Written);
                    }
                }
            }
        }

        var (partEntries, sha256) = parts.Complete();
        LogCollectionExported(logger, name, parts.Documents, parts.Bytes, partEntries.Count, stopwatch.ElapsedMilliseconds);
        return new CollectionEntry(name, type, directory, parts.Documents, parts.Bytes, sha256, metadataEntry, partEntries,
            Convert.ToHexStringLower(bsonHash.GetHashAndReset()));
    }

    // The _id of a document that could not be written, for the error message; never throws.
    private static string DescribeId(RawBsonDocument document)
    {
        try
        {
            return document.TryGetValue("_id", out var id) ? id.ToString() ?? "(null)" : "(none)";
        }
        catch (Exception)
        {
            return "(unreadable)";
        }
    }

    private static void DeleteCollectionFolder(string outputDirectory, string name)
    {
        var folder = Path.Combine(outputDirectory, SnapshotPaths.CollectionDirectory(name));
        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static ClusterTimestamp? ReadSnapshotTime(IClientSessionHandle session)
    {
        var time = session.WrappedCoreSession.SnapshotTime ?? session.OperationTime;
        return time is null ? null : new ClusterTimestamp((uint)time.Timestamp, (uint)time.Increment);
    }

    // MongoDB's SnapshotTooOld: the snapshot's time is older than the history the server keeps.
    private const int SnapshotTooOldCode = 239;

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "SnapshotTooOld while reading {Collection}: the export outlasted the server's snapshot history; it and the remaining collections are read without the snapshot session (consistency none)")]
    private static partial void LogSnapshotTooOld(ILogger logger, string collection);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Collection {Collection} is skipped: {Reason}")]
    private static partial void LogCollectionSkipped(ILogger logger, string collection, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Time-series collection {Collection} is skipped: the server refused to read it ({Error})")]
    private static partial void LogTimeSeriesRefused(ILogger logger, string collection, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Exported {Collection}: {Documents} documents, {Bytes} bytes, {Parts} parts in {ElapsedMs} ms")]
    private static partial void LogCollectionExported(ILogger logger, string collection, long documents, long bytes, int parts, long elapsedMs);
}

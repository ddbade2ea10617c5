using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.TestSupport;

/// <summary>
/// A change history recorded by hand, as the change recorder would: the database's change stream (post-images when
/// available, create and index events) from a cluster time on, cut into increments written with the format's own
/// writer. Writes made through <see cref="Session"/> report their cluster time, so a test knows what the database held
/// at each moment.
/// </summary>
public sealed class RecordedHistory : IDisposable
{
    private readonly IChangeStreamCursor<BsonDocument> _stream;
    private readonly List<BsonDocument> _events = [];

    private RecordedHistory(IChangeStreamCursor<BsonDocument> stream, IClientSessionHandle session)
    {
        _stream = stream;
        Session = session;
    }

    /// <summary>Write through this session: <see cref="NowAsync"/> is then the cluster time of the last write.</summary>
    public IClientSessionHandle Session { get; }

    public IReadOnlyList<BsonDocument> Events => _events;

    /// <summary>Starts watching <paramref name="database"/> at <paramref name="from"/> (events at or after it; a replay skips those at it).</summary>
    public static async Task<RecordedHistory> StartAsync(IMongoDatabase database, ClusterTimestamp from)
    {
        PipelineDefinition<ChangeStreamDocument<BsonDocument>, BsonDocument> pipeline = Array.Empty<BsonDocument>();
        var stream = await database.WatchAsync(pipeline, new ChangeStreamOptions
        {
            FullDocument = ChangeStreamFullDocumentOption.WhenAvailable,
            ShowExpandedEvents = true,
            StartAtOperationTime = ChangeEventLine.ToBsonTimestamp(from),
            MaxAwaitTime = TimeSpan.FromMilliseconds(200),
        });
        var session = await database.Client.StartSessionAsync();
        return new RecordedHistory(stream, session);
    }

    /// <summary>The cluster time of the session's last operation.</summary>
    public ClusterTimestamp Now => ChangeEventLine.ToClusterTimestamp(Session.OperationTime ?? throw new InvalidOperationException("No write was made through the session yet."));

    /// <summary>Reads the stream until it holds every event up to <paramref name="until"/>, in their recorded form.</summary>
    public async Task CatchUpAsync(ClusterTimestamp until)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (_events.Count == 0 || IncrementManifest.Compare(ChangeEventLine.ClusterTime(_events[^1]), until) < 0)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The change stream did not reach {ClusterTimestamps.Describe(until)} within 30 s.");
            }

            if (await _stream.MoveNextAsync())
            {
                _events.AddRange(_stream.Current.Select(ChangeEventLine.From));
            }
        }
    }

    /// <summary>
    /// Writes the recorded events as increments of a chain starting at <paramref name="start"/>, increment k covering
    /// <c>(ends[k-1], ends[k]]</c>, into <paramref name="folder"/>; returns them as a restore reads them back.
    /// </summary>
    public async Task<List<ExtractedIncrement>> WriteIncrementsAsync(string folder, string database, string chain, ClusterTimestamp start, params ClusterTimestamp[] ends) =>
        await WriteIncrementsAsync(folder, database, chain, start, _events, ends);

    public static async Task<List<ExtractedIncrement>> WriteIncrementsAsync(
        string folder, string database, string chain, ClusterTimestamp start, IReadOnlyList<BsonDocument> events, params ClusterTimestamp[] ends)
    {
        Directory.CreateDirectory(folder);
        var increments = new List<ExtractedIncrement>();
        var from = start;
        string? previousSha256 = null;
        foreach (var (to, index) in ends.Select((e, i) => (e, i)))
        {
            var inRange = events.Where(e => IncrementManifest.Compare(ChangeEventLine.ClusterTime(e), from) > 0
                && IncrementManifest.Compare(ChangeEventLine.ClusterTime(e), to) <= 0).ToList();
            var file = Path.Combine(folder, $"{chain}-{index + 1:D6}.jsonl");
            var writer = new CanonicalJsonWriter();
            foreach (var change in inRange)
            {
                writer.WriteLine(change.ToBson());
            }

            var bytes = writer.Written.ToArray();
            await File.WriteAllBytesAsync(file, bytes);
            var manifest = new IncrementManifest
            {
                IncrementId = IncrementManifest.IdOf(chain, index + 1),
                Chain = chain,
                Sequence = index + 1,
                BaseSnapshotId = chain,
                Database = database,
                From = from,
                To = to,
                FirstEventTime = inRange.Count > 0 ? ChangeEventLine.ClusterTime(inRange[0]) : null,
                LastEventTime = inRange.Count > 0 ? ChangeEventLine.ClusterTime(inRange[^1]) : null,
                Events = inRange.Count,
                Bytes = bytes.Length,
                Sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)),
                PreviousSha256 = previousSha256,
                ClosedAt = DateTimeOffset.UtcNow,
            };
            increments.Add(new ExtractedIncrement(manifest, file));
            previousSha256 = manifest.Sha256;
            from = to;
        }

        return increments;
    }

    /// <summary>
    /// Writes <paramref name="count"/> increments without events, a minute each, of a chain starting at
    /// <paramref name="start"/>, into <paramref name="folder"/>.
    /// </summary>
    public static Task<List<ExtractedIncrement>> WriteEmptyIncrementsAsync(string folder, string database, string chain, ClusterTimestamp start, int count) =>
        WriteIncrementsAsync(folder, database, chain, start, [],
            Enumerable.Range(1, count).Select(k => new ClusterTimestamp(start.T + (uint)(60 * k), 1)).ToArray());

    /// <summary>Every collection of the database (work collections aside) with its documents' bytes in _id order.</summary>
    public static async Task<SortedDictionary<string, List<byte[]>>> ContentAsync(IMongoDatabase database)
    {
        var content = new SortedDictionary<string, List<byte[]>>(StringComparer.Ordinal);
        foreach (var name in await (await database.ListCollectionNamesAsync()).ToListAsync())
        {
            if (RestoreWorkCollections.IsWorkCollection(name))
            {
                continue;
            }

            var documents = await database.GetCollection<RawBsonDocument>(name).Find(FilterDefinition<RawBsonDocument>.Empty).Sort(new BsonDocument("_id", 1)).ToListAsync();
            content[name] = documents.Select(BsonTestData.Bytes).ToList();
            documents.ForEach(d => d.Dispose());
        }

        return content;
    }

    public void Dispose()
    {
        _stream.Dispose();
        Session.Dispose();
    }
}

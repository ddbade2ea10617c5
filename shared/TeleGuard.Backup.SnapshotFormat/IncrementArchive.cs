using System.Formats.Tar;
using MongoDB.Bson;
using MongoDB.Bson.Serialization;

namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>
/// An increment as one file (the artifact store's and the destinations' unit): an uncompressed PAX tar holding
/// <c>increment.json</c> then <c>events.jsonl</c>. Reading checks the events against the manifest (bytes, SHA-256,
/// line count, every line decodes, cluster times in order inside <c>(From, To]</c>) before anything may use them.
/// </summary>
public static class IncrementArchive
{
    /// <summary>Longest manifest accepted from a destination.</summary>
    public const int MaxManifestBytes = 64 * 1024;

    public static async Task WriteAsync(IncrementManifest manifest, string eventsFile, Stream output, CancellationToken cancellationToken)
    {
        await using var tar = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
        await WriteEntryAsync(tar, IncrementManifest.FileName, new MemoryStream(manifest.ToJsonBytes()), manifest.ClosedAt, cancellationToken);
        await using var events = new FileStream(eventsFile, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        await WriteEntryAsync(tar, IncrementManifest.EventsFileName, events, manifest.ClosedAt, cancellationToken);
    }

    private static async Task WriteEntryAsync(TarWriter tar, string name, Stream data, DateTimeOffset modified, CancellationToken cancellationToken)
    {
        var entry = new PaxTarEntry(TarEntryType.RegularFile, name)
        {
            DataStream = data,
            ModificationTime = modified,
            Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
        };
        await tar.WriteEntryAsync(entry, cancellationToken);
    }

    /// <summary>
    /// Reads an increment archive into <paramref name="eventsFile"/> (created; deleted again on any error) and returns its
    /// manifest once every check has passed. <paramref name="expectedId"/>, when given, is the increment the caller asked for.
    /// </summary>
    public static async Task<IncrementManifest> ExtractAsync(Stream archive, string eventsFile, string? expectedId, CancellationToken cancellationToken)
    {
        try
        {
            await using var tar = new TarReader(archive, leaveOpen: true);
            var first = await NextFileAsync(tar, cancellationToken) ?? throw new InvalidDataException("Increment archive is empty.");
            if (first.Name != IncrementManifest.FileName || first.DataStream is null || first.Length > MaxManifestBytes)
            {
                throw new InvalidDataException($"Increment archive does not start with {IncrementManifest.FileName}.");
            }

            using var manifestBuffer = new MemoryStream();
            await first.DataStream.CopyToAsync(manifestBuffer, cancellationToken);
            var manifest = IncrementManifest.Parse(manifestBuffer.ToArray());
            if (expectedId is not null && manifest.IncrementId != expectedId)
            {
                throw new InvalidDataException($"Increment archive holds {manifest.IncrementId}, not {expectedId}.");
            }

            var events = await NextFileAsync(tar, cancellationToken)
                ?? throw new InvalidDataException($"Increment {manifest.IncrementId}: archive ends before {IncrementManifest.EventsFileName}.");
            if (events.Name != IncrementManifest.EventsFileName || events.Length != manifest.Bytes)
            {
                throw new InvalidDataException($"Increment {manifest.IncrementId}: expected {IncrementManifest.EventsFileName} of {manifest.Bytes} bytes, found {events.Name} of {events.Length}.");
            }

            await using (var output = new FileStream(eventsFile, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                await (events.DataStream ?? Stream.Null).CopyToAsync(output, cancellationToken);
            }

            if (await NextFileAsync(tar, cancellationToken) is { } extra)
            {
                throw new InvalidDataException($"Increment {manifest.IncrementId}: unexpected file {extra.Name} after {IncrementManifest.EventsFileName}.");
            }

            await VerifyEventsAsync(eventsFile, manifest, cancellationToken);
            return manifest;
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException or OperationCanceledException or IOException)
        {
            File.Delete(eventsFile);
            if (e is EndOfStreamException)
            {
                throw new InvalidDataException("Increment archive is truncated: it ends inside an entry.", e);
            }

            throw;
        }
    }

    /// <summary>Checks an events file against its manifest: size, SHA-256, line count, and every line's cluster time.</summary>
    public static async Task VerifyEventsAsync(string eventsFile, IncrementManifest manifest, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(eventsFile, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        if (file.Length != manifest.Bytes)
        {
            throw new InvalidDataException($"Increment {manifest.IncrementId}: {IncrementManifest.EventsFileName} has {file.Length} bytes, the manifest says {manifest.Bytes}.");
        }

        await using var hashing = new HashingStream(file, leaveOpen: true);
        long count = 0;
        await foreach (var line in ReadEventsAsync(hashing, manifest, cancellationToken))
        {
            _ = line;
            count++;
        }

        if (count != manifest.Events || hashing.GetSha256() != manifest.Sha256)
        {
            throw new InvalidDataException($"Increment {manifest.IncrementId}: {IncrementManifest.EventsFileName} does not match its manifest ({count} events read; SHA-256 or count differs).");
        }
    }

    /// <summary>
    /// The events of an increment in order, each checked: it decodes, its operation is one the format knows, its cluster
    /// time never goes back and lies in <c>(From, To]</c>.
    /// </summary>
    public static IAsyncEnumerable<BsonDocument> ReadEventsAsync(Stream events, IncrementManifest manifest, CancellationToken cancellationToken) =>
        ReadCheckedEventsAsync(events, manifest, bson => BsonSerializer.Deserialize<BsonDocument>(bson), cancellationToken);

    /// <summary>
    /// <see cref="ReadEventsAsync"/> as the decoded BSON bytes (read-only documents): replay writes documents exactly as
    /// recorded, without a round trip through the driver's object model.
    /// </summary>
    public static IAsyncEnumerable<RawBsonDocument> ReadRawEventsAsync(Stream events, IncrementManifest manifest, CancellationToken cancellationToken) =>
        ReadCheckedEventsAsync(events, manifest, bson => new RawBsonDocument(bson), cancellationToken);

    private static async IAsyncEnumerable<T> ReadCheckedEventsAsync<T>(Stream events, IncrementManifest manifest, Func<byte[], T> toDocument,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
        where T : BsonDocument
    {
        var lines = new JsonLinesReader(events, maxLineBytes: SnapshotContent.MaxLineBytes);
        var decoder = new CanonicalJsonReader();
        var previous = manifest.From;
        long number = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var line = lines.ReadLine();
            if (line.IsEmpty)
            {
                yield break;
            }

            number++;
            T change;
            try
            {
                change = toDocument(decoder.Decode(line.Span).ToArray());
            }
            catch (FormatException e)
            {
                throw new InvalidDataException($"Increment {manifest.IncrementId}, event {number}: {e.Message}", e);
            }

            if (!change.TryGetValue("operationType", out var type) || !type.IsString || !ChangeEventLine.OperationTypes.Contains(type.AsString)
                || !change.TryGetValue("clusterTime", out var time) || !time.IsBsonTimestamp
                || !change.TryGetValue("ns", out var ns) || !ns.IsBsonDocument)
            {
                throw new InvalidDataException($"Increment {manifest.IncrementId}, event {number}: not a change event this format records.");
            }

            var clusterTime = ChangeEventLine.ToClusterTimestamp(time.AsBsonTimestamp);
            // Events of one transaction (or one batched write) share a cluster time, and may continue from the previous
            // increment at exactly its end; otherwise times only go up.
            if (IncrementManifest.Compare(clusterTime, previous) < 0 || IncrementManifest.Compare(clusterTime, manifest.From) < 0
                || IncrementManifest.Compare(clusterTime, manifest.To) > 0)
            {
                throw new InvalidDataException($"Increment {manifest.IncrementId}, event {number}: cluster time out of order or outside the increment's range.");
            }

            previous = clusterTime;
            yield return change;
        }
    }

    private static Task<TarEntry?> NextFileAsync(TarReader tar, CancellationToken cancellationToken) =>
        SnapshotArchive.NextFileAsync(tar, cancellationToken, "increment archive");
}

using System.Security.Cryptography;
using MongoDB.Bson;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Recording;

/// <summary>
/// The increment being filled: events appended in stream order to <c>events.jsonl</c> in a work folder, hashed as they
/// are written, closed into an <see cref="IncrementManifest"/>.
/// </summary>
public sealed class OpenIncrement : IDisposable
{
    private readonly FileStream _file;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly CanonicalJsonWriter _writer = new();

    public OpenIncrement(string folder, string chain, int sequence, ClusterTimestamp from, string? previousSha256, DateTimeOffset openedAt)
    {
        EventsFile = Path.Combine(folder, IncrementManifest.EventsFileName);
        _file = new FileStream(EventsFile, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1 << 16);
        Chain = chain;
        Sequence = sequence;
        From = from;
        PreviousSha256 = previousSha256;
        OpenedAt = openedAt;
    }

    public string EventsFile { get; }
    public string Chain { get; }
    public int Sequence { get; }
    public ClusterTimestamp From { get; }
    public string? PreviousSha256 { get; }
    public DateTimeOffset OpenedAt { get; }
    public long Events { get; private set; }
    public long Bytes { get; private set; }
    public ClusterTimestamp? FirstEventTime { get; private set; }
    public ClusterTimestamp? LastEventTime { get; private set; }

    public void Append(BsonDocument changeEvent)
    {
        var line = ChangeEventLine.From(changeEvent);
        var time = ChangeEventLine.ClusterTime(line);
        _writer.Reset();
        _writer.WriteLine(line.ToBson());
        _file.Write(_writer.Written);
        _hash.AppendData(_writer.Written);
        Bytes += _writer.Length;
        Events++;
        FirstEventTime ??= time;
        LastEventTime = time;
    }

    /// <summary>Flushes the events to disk and describes them; <paramref name="to"/> is where the stream has reached.</summary>
    public IncrementManifest Close(ClusterTimestamp to, string baseSnapshotId, string database, DateTimeOffset closedAt)
    {
        _file.Flush(flushToDisk: true);
        _file.Dispose();
        return new IncrementManifest
        {
            IncrementId = IncrementManifest.IdOf(Chain, Sequence),
            Chain = Chain,
            Sequence = Sequence,
            BaseSnapshotId = baseSnapshotId,
            Database = database,
            From = From,
            To = to,
            FirstEventTime = FirstEventTime,
            LastEventTime = LastEventTime,
            Events = Events,
            Bytes = Bytes,
            Sha256 = Convert.ToHexStringLower(_hash.GetHashAndReset()),
            PreviousSha256 = PreviousSha256,
            ClosedAt = closedAt,
        };
    }

    public void Dispose()
    {
        _file.Dispose();
        _hash.Dispose();
    }
}

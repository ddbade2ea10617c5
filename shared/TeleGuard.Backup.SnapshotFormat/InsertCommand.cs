using System.Buffers.Binary;
using System.Text;
using MongoDB.Bson;
using MongoDB.Bson.IO;
using MongoDB.Driver;

namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>
/// One <c>insert</c> command written as BSON bytes while the documents are decoded, as mongorestore does: each document's
/// bytes are copied once into the command's <c>documents</c> array, with no per-document objects for the driver to
/// wrap, batch and serialize again (that per-document work, not the decode, was most of a restore's client CPU). The
/// server checks every document as it would in any insert; the answer is checked here (<see cref="SendAsync"/>).
/// Not thread-safe; one builder per batch.
/// </summary>
public sealed class InsertCommand
{
    /// <summary>Largest command the server accepts: a BSON document's 16 MiB plus the 16 KiB it allows a command over that.</summary>
    public const int MaxCommandBytes = 16 * 1024 * 1024 + 16 * 1024;

    /// <summary>
    /// Room left for the fields the driver adds to a command (<c>$db</c>, <c>lsid</c>, <c>$clusterTime</c>, a read
    /// preference): a few hundred bytes in practice.
    /// </summary>
    public const int DriverFieldsReserve = 8 * 1024;

    /// <summary>Documents a command holds at most (the server's maxWriteBatchSize).</summary>
    public const int MaxDocuments = 100_000;

    // An array element's type byte, its key (at most six digits below MaxDocuments) and the key's terminator.
    private const int KeyOverhead = 1 + 6 + 1;

    private const int DuplicateKey = 11000;

    // Server errors after which the same insert may be sent once more (the driver's retryable-write codes: a primary
    // stepping down or shutting down, a node recovering, network trouble).
    private static readonly HashSet<int> RetryableCodes = [6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436];

    private readonly string _collection;
    private byte[] _buffer;
    private int _length;
    private int _arrayStart;
    private readonly byte[] _key = new byte[12];
    private bool _complete;

    /// <param name="target">The collection written (a restore's staged collection).</param>
    /// <param name="collection">The collection's name in the snapshot, for messages.</param>
    /// <param name="ordered">Stop at the first refused document (a time-series collection); otherwise insert every other.</param>
    /// <param name="writeConcern">The target's write concern when it is not the server's default (w:0 is sent acknowledged: the answer is checked).</param>
    /// <param name="initialCapacity">Bytes to start with, e.g. the previous batch's size.</param>
    public InsertCommand(string target, string collection, bool ordered, WriteConcern? writeConcern = null, int initialCapacity = 64 * 1024)
    {
        _collection = collection;
        _buffer = new byte[Math.Max(initialCapacity, 256)];
        _length = 4; // the command's length, written by ToCommand
        AppendElementName(0x02, "insert"u8);
        var name = Encoding.UTF8.GetBytes(target);
        AppendInt32(name.Length + 1);
        Append(name);
        Append(0);
        AppendElementName(0x08, "ordered"u8);
        Append(ordered ? (byte)1 : (byte)0);
        // What was exported passed the source's validation once; a restore writes it back as it was.
        AppendElementName(0x08, "bypassDocumentValidation"u8);
        Append(1);
        if (writeConcern is { IsServerDefault: false, IsAcknowledged: true })
        {
            AppendElementName(0x03, "writeConcern"u8);
            Append(writeConcern.ToBsonDocument().ToBson());
        }

        AppendElementName(0x04, "documents"u8);
        _arrayStart = _length;
        AppendInt32(0);
    }

    /// <summary>Documents added so far.</summary>
    public int Count { get; private set; }

    /// <summary>Bytes of the command so far.</summary>
    public int Length => _length;

    /// <summary>Whether a document of this many bytes may join the command (the first always may).</summary>
    public bool Fits(int documentLength) =>
        Count == 0 || (Count < MaxDocuments && (long)_length + KeyOverhead + documentLength + 2 <= MaxCommandBytes - DriverFieldsReserve);

    /// <summary>Copies one document (its whole BSON, as decoded) into the command.</summary>
    public void Add(ReadOnlySpan<byte> document)
    {
        if (_complete)
        {
            throw new InvalidOperationException("The command was already built.");
        }

        if (document.Length < 5 || BinaryPrimitives.ReadInt32LittleEndian(document) != document.Length || document.Length > SnapshotContent.MaxDocumentBytes)
        {
            throw new ArgumentException("Not one BSON document of at most 16 MiB.", nameof(document));
        }

        FormatKey(Count, out var keyLength);
        AppendElementName(0x03, _key.AsSpan(0, keyLength));
        Append(document);
        Count++;
    }

    /// <summary>
    /// Sends the command and checks the answer: every document inserted, no write error and no write-concern error;
    /// otherwise throws <see cref="InvalidOperationException"/> naming the collection, the first refused document's
    /// index and the server's message. A command that failed on the way (connection lost, primary stepped down) is
    /// sent once more, as the driver retries a write: documents the first attempt had already inserted are then found
    /// by their <c>_id</c> (duplicate key) and counted as inserted; the restore reads everything back before it is
    /// used, so a snapshot that really holds one <c>_id</c> twice is still refused there.
    /// </summary>
    public async Task SendAsync(IMongoDatabase database, CancellationToken cancellationToken)
    {
        var command = ToCommand();
        BsonDocument answer;
        var retried = false;
        try
        {
            answer = await RunAsync(database, command, cancellationToken);
        }
        catch (Exception e) when (IsRetryable(e) && !cancellationToken.IsCancellationRequested)
        {
            retried = true;
            answer = await RunAsync(database, command, cancellationToken);
        }

        var errors = answer.GetValue("writeErrors", new BsonArray()).AsBsonArray.Select(e => e.AsBsonDocument).ToList();
        var refused = errors.Where(e => !(retried && e.GetValue("code", 0).ToInt32() == DuplicateKey)).ToList();
        var inserted = answer.GetValue("n", -1).ToInt64();
        var found = errors.Count - refused.Count;
        if (refused.Count > 0)
        {
            var first = refused[0];
            throw new InvalidOperationException(
                $"Collection {_collection}: the server refused {refused.Count} of {Count} documents of an insert ({inserted} inserted); "
                + $"the first (index {first.GetValue("index", -1)}): code {first.GetValue("code", 0)}, {first.GetValue("errmsg", "")}");
        }

        if (inserted + found != Count)
        {
            throw new InvalidOperationException($"Collection {_collection}: the server inserted {inserted} of the {Count} documents sent{(retried ? $" ({found} found from a first attempt)" : "")}.");
        }
    }

    private async Task<BsonDocument> RunAsync(IMongoDatabase database, RawBsonDocument command, CancellationToken cancellationToken)
    {
        try
        {
            return await database.RunCommandAsync(new BsonDocumentCommand<BsonDocument>(command), ReadPreference.Primary, cancellationToken);
        }
        catch (MongoWriteConcernException e)
        {
            // The driver throws on a writeConcernError before the answer is seen: say which collection.
            throw new InvalidOperationException($"Collection {_collection}: an insert was not acknowledged as asked: {e.Message}", e);
        }
    }

    private static bool IsRetryable(Exception e) => e switch
    {
        MongoConnectionException or MongoNotPrimaryException or MongoNodeIsRecoveringException => true,
        MongoCommandException command => RetryableCodes.Contains(command.Code),
        _ => false,
    };

    /// <summary>The command's BSON (built once; no document may be added after).</summary>
    public RawBsonDocument ToCommand()
    {
        if (_complete)
        {
            return new RawBsonDocument(new ByteArrayBuffer(_buffer, _length, isReadOnly: true));
        }

        _complete = true;
        Append(0); // end of the documents array
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(_arrayStart), _length - _arrayStart);
        Append(0); // end of the command
        BinaryPrimitives.WriteInt32LittleEndian(_buffer, _length);
        return new RawBsonDocument(new ByteArrayBuffer(_buffer, _length, isReadOnly: true));
    }

    // The array's keys are "0", "1", …: written without a string per document.
    private void FormatKey(int value, out int length)
    {
        if (!System.Buffers.Text.Utf8Formatter.TryFormat(value, _key, out length))
        {
            throw new InvalidOperationException("An array index that does not format.");
        }
    }

    private void AppendElementName(byte type, ReadOnlySpan<byte> name)
    {
        Append(type);
        Append(name);
        Append(0);
    }

    private void AppendInt32(int value)
    {
        Ensure(4);
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(_length), value);
        _length += 4;
    }

    private void Append(byte value)
    {
        Ensure(1);
        _buffer[_length++] = value;
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    private void Ensure(int more)
    {
        if (_length + more > _buffer.Length)
        {
            // Doubling, but not far past the largest command: a batch near 16 MiB keeps one buffer of about that size.
            Array.Resize(ref _buffer, Math.Max(_length + more, Math.Min(_buffer.Length * 2, MaxCommandBytes)));
        }
    }
}

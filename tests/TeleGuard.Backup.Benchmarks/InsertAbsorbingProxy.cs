using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MongoDB.Bson;

namespace TeleGuard.Backup.Benchmarks;

/// <summary>
/// A MongoDB wire-protocol proxy that answers the bulk inserts of a restore itself, at once, and forwards every other
/// command to the real server: a server that inserts infinitely fast, so that a restore's figure through it is the
/// client's own ceiling (decode, batching, serialization, the driver's round trips) and not the server's. Only
/// <c>insert</c> commands into collections the filter accepts, with their documents in an OP_MSG document sequence
/// or in the body's <c>documents</c> array, are answered here; each document's length is checked to frame them exactly. Everything
/// else (the restore's lease, listCollections, create, createIndexes, the swap) reaches the server as sent.
/// </summary>
public sealed class InsertAbsorbingProxy : IAsyncDisposable
{
    private const int OpMsg = 2013;
    private const int MaxMessageBytes = 48_000_000 + 16 * 1024 * 1024; // the server's maxMessageSizeBytes plus headroom

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly string _host;
    private readonly int _port;
    private readonly Func<string, bool> _absorbs;
    private readonly CancellationTokenSource _stop = new();
    private long _documents;
    private long _batches;
    private long _bytes;
    private int _nextRequestId = 1_000_000_000;

    private InsertAbsorbingProxy(string host, int port, Func<string, bool> absorbs)
    {
        _host = host;
        _port = port;
        _absorbs = absorbs;
    }

    public long AbsorbedDocuments => Interlocked.Read(ref _documents);

    public long AbsorbedBatches => Interlocked.Read(ref _batches);

    public long AbsorbedBytes => Interlocked.Read(ref _bytes);

    public static InsertAbsorbingProxy Start(string uri, Func<string, bool> absorbs)
    {
        var parsed = new Uri(uri);
        var proxy = new InsertAbsorbingProxy(parsed.Host, parsed.Port > 0 ? parsed.Port : 27017, absorbs);
        proxy._listener.Start();
        _ = proxy.AcceptLoopAsync();
        return proxy;
    }

    /// <summary>The same URI with host and port replaced by the proxy's.</summary>
    public string Through(string uri)
    {
        var parsed = new Uri(uri);
        var port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        var authority = parsed.UserInfo.Length > 0 ? $"{parsed.UserInfo}@127.0.0.1:{port}" : $"127.0.0.1:{port}";
        return $"{parsed.Scheme}://{authority}{parsed.PathAndQuery}";
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception)
            {
                return;
            }

            client.NoDelay = true;
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var upstream = new TcpClient { NoDelay = true };
        using (client)
        {
            try
            {
                await upstream.ConnectAsync(_host, _port, _stop.Token);
                var fromClient = client.GetStream();
                var toServer = upstream.GetStream();
                // The driver sends one request per connection and waits for its answer (monitoring's streamed hellos
                // carry no inserts), so the server's answers and ours never interleave: a plain copy back suffices.
                var toClient = upstream.GetStream().CopyToAsync(fromClient, _stop.Token);
                var requests = ForwardRequestsAsync(fromClient, toServer);
                await Task.WhenAny(toClient, requests);
            }
            catch (Exception)
            {
                // A connection the driver closed, or the proxy stopping.
            }
        }
    }

    private async Task ForwardRequestsAsync(NetworkStream fromClient, NetworkStream toServer)
    {
        var header = new byte[4];
        while (true)
        {
            await fromClient.ReadExactlyAsync(header, _stop.Token);
            var length = BinaryPrimitives.ReadInt32LittleEndian(header);
            if (length < 16 || length > MaxMessageBytes)
            {
                throw new InvalidDataException($"A wire message of {length} bytes.");
            }

            var message = new byte[length];
            header.CopyTo(message, 0);
            await fromClient.ReadExactlyAsync(message.AsMemory(4), _stop.Token);
            if (TryAbsorb(message, out var reply))
            {
                if (reply is not null)
                {
                    await fromClient.WriteAsync(reply, _stop.Token);
                }

                continue;
            }

            await toServer.WriteAsync(message, _stop.Token);
        }
    }

    // An OP_MSG insert into an absorbed collection with a "documents" sequence: counted, framed, answered {n, ok: 1}.
    private bool TryAbsorb(byte[] message, out byte[]? reply)
    {
        reply = null;
        var span = message.AsSpan();
        if (BinaryPrimitives.ReadInt32LittleEndian(span[12..]) != OpMsg)
        {
            return false;
        }

        var requestId = BinaryPrimitives.ReadInt32LittleEndian(span[4..]);
        var flags = BinaryPrimitives.ReadUInt32LittleEndian(span[16..]);
        var end = (flags & 1) != 0 ? span.Length - 4 : span.Length; // a CRC-32C checksum closes the message
        var position = 20;
        string? collection = null;
        var documents = 0;
        while (position < end)
        {
            var kind = span[position++];
            if (kind == 0)
            {
                var bodyLength = BinaryPrimitives.ReadInt32LittleEndian(span[position..]);
                (collection, var inBody) = InsertTarget(span.Slice(position, bodyLength));
                documents += inBody;
                position += bodyLength;
            }
            else if (kind == 1)
            {
                var sectionLength = BinaryPrimitives.ReadInt32LittleEndian(span[position..]);
                var sectionEnd = position + sectionLength;
                var nameEnd = span[(position + 4)..].IndexOf((byte)0) + position + 4;
                var identifier = Encoding.UTF8.GetString(span[(position + 4)..nameEnd]);
                var document = nameEnd + 1;
                while (document < sectionEnd)
                {
                    var documentLength = BinaryPrimitives.ReadInt32LittleEndian(span[document..]);
                    if (documentLength < 5 || document + documentLength > sectionEnd || span[document + documentLength - 1] != 0)
                    {
                        throw new InvalidDataException("A document sequence that does not frame.");
                    }

                    document += documentLength;
                    if (identifier == "documents")
                    {
                        documents++;
                    }
                }

                position = sectionEnd;
            }
            else
            {
                return false;
            }
        }

        if (collection is null || documents == 0 || !_absorbs(collection))
        {
            return false;
        }

        Interlocked.Add(ref _documents, documents);
        Interlocked.Increment(ref _batches);
        Interlocked.Add(ref _bytes, message.Length);
        if ((flags & 2) != 0)
        {
            return true; // moreToCome: an unacknowledged write gets no answer
        }

        var body = new BsonDocument { { "n", documents }, { "ok", 1.0 } }.ToBson();
        reply = new byte[21 + body.Length];
        BinaryPrimitives.WriteInt32LittleEndian(reply, reply.Length);
        BinaryPrimitives.WriteInt32LittleEndian(reply.AsSpan(4), Interlocked.Increment(ref _nextRequestId));
        BinaryPrimitives.WriteInt32LittleEndian(reply.AsSpan(8), requestId);
        BinaryPrimitives.WriteInt32LittleEndian(reply.AsSpan(12), OpMsg);
        reply[20] = 0; // flags 0 at 16..19, then a kind-0 section
        body.CopyTo(reply, 21);
        return true;
    }

    // The collection of an insert command (its first element is insert: "name") and how many documents its body's
    // documents array holds (a driver may send them there instead of in a document sequence).
    private static (string? Collection, int Documents) InsertTarget(ReadOnlySpan<byte> body)
    {
        if (body.Length < 5 + 7 + 5 || body[4] != 0x02 || !body[5..].StartsWith("insert\0"u8))
        {
            return (null, 0);
        }

        string? collection = null;
        var documents = 0;
        var position = 4;
        while (position < body.Length - 1)
        {
            var type = body[position++];
            var nameLength = body[position..].IndexOf((byte)0);
            var name = body.Slice(position, nameLength);
            position += nameLength + 1;
            int size;
            switch (type)
            {
                case 0x02 or 0x0D or 0x0E: size = 4 + BinaryPrimitives.ReadInt32LittleEndian(body[position..]); break;
                case 0x03 or 0x04: size = BinaryPrimitives.ReadInt32LittleEndian(body[position..]); break;
                case 0x05: size = 5 + BinaryPrimitives.ReadInt32LittleEndian(body[position..]); break;
                case 0x01 or 0x09 or 0x11 or 0x12: size = 8; break;
                case 0x10: size = 4; break;
                case 0x08: size = 1; break;
                case 0x07: size = 12; break;
                case 0x0A or 0x06 or 0x7F or 0xFF: size = 0; break;
                case 0x13: size = 16; break;
                default: return (null, 0); // a type an insert command does not carry: leave it to the server
            }

            if (type == 0x02 && name.SequenceEqual("insert"u8))
            {
                collection = Encoding.UTF8.GetString(body.Slice(position + 4, size - 5));
            }
            else if (type == 0x04 && name.SequenceEqual("documents"u8))
            {
                var element = position + 4;
                var arrayEnd = position + size - 1;
                while (element < arrayEnd)
                {
                    if (body[element] != 0x03)
                    {
                        return (null, 0);
                    }

                    element += body[element..].IndexOf((byte)0) + 1;
                    var documentLength = BinaryPrimitives.ReadInt32LittleEndian(body[element..]);
                    if (documentLength < 5 || element + documentLength > arrayEnd || body[element + documentLength - 1] != 0)
                    {
                        throw new InvalidDataException("A documents array that does not frame.");
                    }

                    element += documentLength;
                    documents++;
                }
            }

            position += size;
        }

        return (collection, documents);
    }

    public ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        _stop.Dispose();
        return ValueTask.CompletedTask;
    }
}

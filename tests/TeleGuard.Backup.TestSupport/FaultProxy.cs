using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TeleGuard.Backup.TestSupport;

/// <summary>
/// A TCP proxy on loopback in front of one server, for injecting network faults: <see cref="Cut"/> drops every
/// connection and refuses new ones (the server is down, or restarting), <see cref="Restore"/> lets them through again,
/// and <see cref="StallRequestsContaining"/> holds any request whose bytes contain a marker (e.g. a git push) and never
/// forwards it (a partial request would leave the server waiting), so that a client can be killed in the middle of it.
/// <see cref="HoldRequestsContaining"/> holds such requests until <see cref="ReleaseHeld"/> and then forwards them (a
/// slow server), <see cref="HoldNextRequestContaining"/> only the next one (e.g. a push's ref advertisement, so that
/// another writer can move the branch in between), and <see cref="ResetRequestsContaining"/> drops the connection of
/// any request with the marker (a failing server for some requests only).
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly string _targetHost;
    private readonly int _targetPort;
    private readonly ConcurrentDictionary<Guid, (TcpClient Client, TcpClient Upstream)> _connections = new();
    private readonly CancellationTokenSource _stop = new();
    private volatile bool _refusing;
    private volatile string? _stallMarker;
    private volatile string? _holdMarker;
    private volatile string? _resetMarker;
    private TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _stalled;
    private int _held;
    private int _reset;
    private volatile bool _holdOnlyNext;
    private TaskCompletionSource _heldSignal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _refused;

    private FaultProxy(string targetHost, int targetPort)
    {
        _targetHost = targetHost;
        _targetPort = targetPort;
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>How many requests were held since the stall began.</summary>
    public int StalledRequests => Volatile.Read(ref _stalled);

    public static FaultProxy Start(string targetHost, int targetPort)
    {
        var proxy = new FaultProxy(targetHost, targetPort);
        proxy._listener.Start();
        _ = proxy.AcceptLoopAsync();
        return proxy;
    }

    /// <summary>A proxy in front of the host and port of <paramref name="uri"/>.</summary>
    public static FaultProxy For(string uri)
    {
        var parsed = new Uri(uri);
        var port = parsed.Port > 0 ? parsed.Port : parsed.Scheme switch
        {
            "mongodb" => 27017, // a URI builder drops the default port
            "amqp" => 5672,
            "redis" => 6379,
            _ => throw new ArgumentException($"No port in {parsed.Scheme}:// URI."),
        };
        return Start(parsed.Host, port);
    }

    /// <summary>The same URI with host and port replaced by the proxy's.</summary>
    public string Through(string uri)
    {
        var parsed = new Uri(uri);
        var authority = parsed.UserInfo.Length > 0 ? $"{parsed.UserInfo}@127.0.0.1:{Port}" : $"127.0.0.1:{Port}";
        return $"{parsed.Scheme}://{authority}{parsed.PathAndQuery}";
    }

    public void Cut()
    {
        _refusing = true;
        foreach (var (id, (client, upstream)) in _connections)
        {
            Reset(client);
            upstream.Dispose();
            _connections.TryRemove(id, out _);
        }
    }

    public void Restore() => _refusing = false;

    /// <summary>How many connection attempts were refused while cut (a client trying to reconnect).</summary>
    public int RefusedConnections => Volatile.Read(ref _refused);

    public void StallRequestsContaining(string marker)
    {
        _stalled = 0;
        _stallMarker = marker;
    }

    /// <summary>New requests go through again; those already held stay held until their client goes away.</summary>
    public void StopStalling() => _stallMarker = null;

    /// <summary>How many requests were held by <see cref="HoldRequestsContaining"/> so far.</summary>
    public int HeldRequests => Volatile.Read(ref _held);

    /// <summary>How many connections were dropped by <see cref="ResetRequestsContaining"/> so far.</summary>
    public int ResetRequests => Volatile.Read(ref _reset);

    /// <summary>Holds every request containing <paramref name="marker"/> until <see cref="ReleaseHeld"/>, then forwards it.</summary>
    public void HoldRequestsContaining(string marker)
    {
        _release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _holdOnlyNext = false;
        _holdMarker = marker;
    }

    /// <summary>
    /// Holds the next request whose bytes contain <paramref name="marker"/> (only that one) until <see cref="ReleaseHeld"/>.
    /// The task completes once it is held.
    /// </summary>
    public Task HoldNextRequestContaining(string marker)
    {
        _heldSignal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _holdOnlyNext = true;
        _holdMarker = marker;
        return _heldSignal.Task;
    }

    /// <summary>Forwards the held requests, and lets new ones through.</summary>
    public void ReleaseHeld()
    {
        _holdMarker = null;
        _release.TrySetResult();
    }

    /// <summary>Drops the connection of every request containing <paramref name="marker"/> (null: none any more).</summary>
    public void ResetRequestsContaining(string? marker) => _resetMarker = marker;

    private static void Reset(TcpClient client)
    {
        try
        {
            client.Client.LingerState = new LingerOption(true, 0); // RST, as a host whose server died answers
        }
        catch (Exception)
        {
            // Already closed.
        }

        client.Dispose();
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

            if (_refusing)
            {
                Interlocked.Increment(ref _refused);
                Reset(client);
                continue;
            }

            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        var upstream = new TcpClient();
        var id = Guid.NewGuid();
        try
        {
            await upstream.ConnectAsync(_targetHost, _targetPort, _stop.Token);
            _connections[id] = (client, upstream);
            var toServer = PumpAsync(client.GetStream(), upstream.GetStream(), inspect: true);
            var toClient = PumpAsync(upstream.GetStream(), client.GetStream(), inspect: false);
            await Task.WhenAny(toServer, toClient);
        }
        catch (Exception)
        {
            // A refused or dropped connection is what this proxy is for.
        }
        finally
        {
            _connections.TryRemove(id, out _);
            client.Dispose();
            upstream.Dispose();
        }
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to, bool inspect)
    {
        var buffer = new byte[81920];
        while (true)
        {
            var read = await from.ReadAsync(buffer, _stop.Token);
            if (read == 0)
            {
                return;
            }

            var text = inspect ? Encoding.Latin1.GetString(buffer, 0, read) : "";
            if (inspect && _stallMarker is { } marker && text.Contains(marker, StringComparison.Ordinal))
            {
                Interlocked.Increment(ref _stalled);
                // Swallow whatever else the client sends until it goes away; the server never sees the request.
                while (await from.ReadAsync(buffer, _stop.Token) > 0)
                {
                }

                return;
            }

            if (inspect && _resetMarker is { } failing && text.Contains(failing, StringComparison.Ordinal))
            {
                Interlocked.Increment(ref _reset);
                return; // the connection is closed without an answer
            }

            if (inspect && _holdMarker is { } held && text.Contains(held, StringComparison.Ordinal))
            {
                Interlocked.Increment(ref _held);
                if (_holdOnlyNext)
                {
                    _holdMarker = null;
                    _heldSignal.TrySetResult();
                }

                await _release.Task.WaitAsync(_stop.Token);
            }

            await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
        }
    }

    public ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        Cut();
        _stop.Dispose();
        return ValueTask.CompletedTask;
    }
}

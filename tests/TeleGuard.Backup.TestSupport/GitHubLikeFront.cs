using System.Net;

namespace TeleGuard.Backup.TestSupport;

/// <summary>
/// An HTTP front for the test git server that answers pushes as GitHub answers a token with read access only:
/// <c>403</c> on the receive-pack advertisement and request, with GitHub's message; every other request (fetches)
/// goes through to the real server.
/// </summary>
public sealed class GitHubLikeFront : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly HttpClient _upstream = new(new HttpClientHandler { AllowAutoRedirect = false });
    private readonly Uri _target;
    private readonly Task _serving;
    private int _refused;

    private GitHubLikeFront(Uri target, int port)
    {
        _target = target;
        _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        _listener.Start();
        BaseUrl = new Uri($"http://127.0.0.1:{port}/");
        _serving = ServeAsync();
    }

    public Uri BaseUrl { get; }

    /// <summary>How many push requests were answered 403.</summary>
    public int RefusedPushes => Volatile.Read(ref _refused);

    /// <summary>A front for <paramref name="repository"/> (a URL on the test git server); its URL for the same repository.</summary>
    public static (GitHubLikeFront Front, Uri Repository) ReadOnlyTokenFor(Uri repository)
    {
        var port = FreePort();
        var front = new GitHubLikeFront(new Uri(repository.GetLeftPart(UriPartial.Authority)), port);
        return (front, new Uri(front.BaseUrl, repository.PathAndQuery));
    }

    private static int FreePort()
    {
        using var socket = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception)
            {
                return;
            }

            _ = HandleAsync(context);
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        var request = context.Request;
        var response = context.Response;
        try
        {
            if (request.RawUrl!.Contains("git-receive-pack", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref _refused);
                response.StatusCode = 403;
                await using var writer = new StreamWriter(response.OutputStream);
                await writer.WriteAsync("Permission to acme/backups.git denied to teleguard-bot.\n");
                return;
            }

            using var forward = new HttpRequestMessage(new HttpMethod(request.HttpMethod), new Uri(_target, request.RawUrl));
            if (request.HasEntityBody)
            {
                forward.Content = new StreamContent(request.InputStream);
                if (request.ContentType is { } contentType)
                {
                    forward.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
                }

                if (request.Headers["Content-Encoding"] is { } encoding)
                {
                    forward.Content.Headers.TryAddWithoutValidation("Content-Encoding", encoding);
                }
            }

            foreach (var name in new[] { "Authorization", "Accept", "Git-Protocol" })
            {
                if (request.Headers[name] is { } value)
                {
                    forward.Headers.TryAddWithoutValidation(name, value);
                }
            }

            using var answer = await _upstream.SendAsync(forward, HttpCompletionOption.ResponseHeadersRead);
            response.StatusCode = (int)answer.StatusCode;
            foreach (var header in answer.Headers.Concat(answer.Content.Headers))
            {
                if (header.Key is not ("Transfer-Encoding" or "Content-Length" or "Connection"))
                {
                    response.Headers[header.Key] = string.Join(",", header.Value);
                }
            }

            await using var body = await answer.Content.ReadAsStreamAsync();
            await body.CopyToAsync(response.OutputStream);
        }
        catch (Exception)
        {
            response.StatusCode = 502;
        }
        finally
        {
            response.Close();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        await _serving;
        _upstream.Dispose();
    }
}

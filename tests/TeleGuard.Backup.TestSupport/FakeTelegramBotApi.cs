using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace TeleGuard.Backup.TestSupport;

/// <summary>
/// A fake Telegram Bot API on loopback (Kestrel) that holds the product to Telegram's rules on what is actually sent:
/// the token in the path (401 for a wrong one); <c>sendDocument</c> as multipart (also with <c>attach://</c>), its body
/// counted as it arrives (uploads are chunked, with no Content-Length) and refused with 413 over 50 MB; captions of at
/// most 1,024 characters; <c>getFile</c> and the download refusing files over 20 MB ("file is too big");
/// <c>deleteMessage</c> / <c>deleteMessages</c> (1–100 ids) leaving messages 48 hours old or older in place by its
/// clock; 400 "chat not found". Flood control as Telegram does it: a 429 with <c>retry_after</c> (scheduled with
/// <see cref="Flood"/>) holds for that long, and every request before it has passed, whatever the method, gets 429
/// again. Error answers have Telegram's JSON shape (<c>ok</c>, <c>error_code</c>, <c>description</c>, <c>parameters</c>).
/// In local-server mode (<see cref="LocalServer"/>) uploads go to 2000 MB and downloads have no limit. Megabytes are
/// 10^6 bytes (the stricter reading of Telegram's "MB"). Every request is in <see cref="Requests"/>; uploaded files are
/// kept on disk, not in memory.
/// </summary>
public sealed class FakeTelegramBotApi : IAsyncDisposable
{
    public const long ChatId = -1001234567890;
    public const string ChannelName = "@teleguard_backups";

    /// <summary>The operators' chat that alerts go to (TELEGRAM_ALERT_CHAT_ID).</summary>
    public const long AlertChatId = -1009876543210;

    public const long HostedUploadLimit = 50L * 1000 * 1000;
    public const long HostedDownloadLimit = 20L * 1000 * 1000;
    public const long LocalUploadLimit = 2000L * 1000 * 1000;
    public const int MaxCaptionLength = 1024;
    public static readonly TimeSpan DeletableFor = TimeSpan.FromHours(48);

    private readonly WebApplication _app;
    private readonly TimeProvider _clock;
    private readonly TemporaryDirectory _files = new();
    private readonly ConcurrentDictionary<int, FakeMessage> _messages = new();
    private readonly Lock _gate = new();
    private readonly Dictionary<string, int> _calls = [];
    private readonly List<ScheduledFlood> _floods = [];
    private readonly List<FakeRequest> _requests = [];
    private DateTimeOffset _floodUntil = DateTimeOffset.MinValue;
    private int _nextMessageId = 100;

    private FakeTelegramBotApi(WebApplication app, TimeProvider clock, string token, bool localServer)
    {
        _app = app;
        _clock = clock;
        Token = token;
        LocalServer = localServer;
        Directory.CreateDirectory(_files.Path);
    }

    public string Token { get; }
    public string BaseUrl { get; private set; } = "";
    public bool LocalServer { get; }

    /// <summary>The channel as it is now (deleted messages are gone).</summary>
    public IReadOnlyCollection<FakeMessage> Messages => _messages.Values.OrderBy(m => m.Id).ToList();

    /// <summary>Every message id ever deleted.</summary>
    public ConcurrentBag<int> Deleted { get; } = [];

    /// <summary>Texts sent with sendMessage, as (chat id, text).</summary>
    public ConcurrentQueue<(string Chat, string Text)> TextMessages { get; } = new();

    /// <summary>Every request answered so far, in the order answered (file downloads as method "download").</summary>
    public IReadOnlyList<FakeRequest> Requests
    {
        get
        {
            lock (_gate)
            {
                return _requests.ToList();
            }
        }
    }

    /// <summary>Holds the n-th sendDocument call before its body is read, as a slow upload; see <see cref="SendHold"/>.</summary>
    public SendHold? HoldOnSend { get; set; }

    /// <summary>
    /// Accepts the n-th sendDocument (the message is in the channel) and then holds its answer, as Telegram does when
    /// the uploader dies between Telegram accepting a part and hearing about it; see <see cref="SendHold"/>.
    /// </summary>
    public SendHold? HoldResponseOnSend { get; set; }

    /// <summary>
    /// The <paramref name="call"/>-th request (1-based, counting every request of that method) of <paramref name="method"/>
    /// answers 429 with <paramref name="retryAfterSeconds"/>, and so does every request that comes before that has passed.
    /// </summary>
    public void Flood(string method, int call, int retryAfterSeconds)
    {
        lock (_gate)
        {
            _floods.Add(new ScheduledFlood(method, call, retryAfterSeconds));
        }
    }

    /// <summary>The next request of <paramref name="method"/> answers 429; see <see cref="Flood"/>.</summary>
    public void FloodNext(string method, int retryAfterSeconds)
    {
        lock (_gate)
        {
            _floods.Add(new ScheduledFlood(method, _calls.GetValueOrDefault(method) + 1, retryAfterSeconds));
        }
    }

    public static async Task<FakeTelegramBotApi> StartAsync(TimeProvider clock, bool localServer = false)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.WebHost.ConfigureKestrel(o => o.Limits.MaxRequestBodySize = null);
        builder.Services.Configure<FormOptions>(o => o.MultipartBodyLengthLimit = long.MaxValue);
        var app = builder.Build();
        var fake = new FakeTelegramBotApi(app, clock, $"{Random.Shared.Next(100000, 999999)}:AAFakeTokenForTests_{Guid.NewGuid():N}", localServer);
        app.MapPost("/bot{token}/{method}", fake.HandleAsync);
        app.MapGet("/file/bot{token}/{**path}", fake.Download);
        await app.StartAsync();
        fake.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return fake;
    }

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1822:Mark members as static",
        Justification = "Reading what this server stored is part of its instance API: tests call telegram.ReadFile(message).")]
    public byte[] ReadFile(FakeMessage message) => File.ReadAllBytes(message.Path);

    private long UploadLimit => LocalServer ? LocalUploadLimit : HostedUploadLimit;
    private long DownloadLimit => LocalServer ? long.MaxValue : HostedDownloadLimit;

    private async Task HandleAsync(HttpContext context, string token, string method)
    {
        var receivedAt = _clock.GetUtcNow();
        int call;
        lock (_gate)
        {
            call = _calls[method] = _calls.GetValueOrDefault(method) + 1;
        }

        var request = new FakeRequest { Method = method, ReceivedAt = receivedAt, ContentLength = context.Request.ContentLength };
        if (method == "sendDocument" && HoldOnSend is { } hold && hold.Call == call)
        {
            hold.Arrived.TrySetResult();
            try
            {
                await hold.Release.Task.WaitAsync(context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                return; // the uploader went away mid-upload: no message, as with Telegram
            }
        }

        // The body is counted as it is read, whatever the headers say; the rest of a body over the limit is read and
        // dropped so that the client hears the 413 instead of a reset connection.
        var body = new CountingStream(context.Request.Body, UploadLimit);
        context.Request.Body = body;
        JsonObject? parameters = null;
        Answer answer;
        try
        {
            IFormCollection? form = null;
            if (method == "sendDocument")
            {
                form = await context.Request.ReadFormAsync();
                parameters = new JsonObject(form.Select(f => KeyValuePair.Create(f.Key, (JsonNode?)f.Value.ToString())));
            }
            else
            {
                parameters = await JsonBodyAsync(context);
            }

            answer = await AnswerAsync(token, method, call, receivedAt, form, parameters);
        }
        catch (BodyTooLargeException)
        {
            await body.DrainAsync();
            answer = Error(413, "Request Entity Too Large");
        }

        if (answer.Held is { } held)
        {
            try
            {
                await held.Release.Task.WaitAsync(context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                return; // the uploader went away: the message stays, known to no one
            }
        }

        lock (_gate)
        {
            var answeredAt = _clock.GetUtcNow();
            if (answer.OpensFloodWindow)
            {
                _floodUntil = answeredAt + TimeSpan.FromSeconds(answer.RetryAfter!.Value);
            }

            _requests.Add(request with
            {
                AnsweredAt = answeredAt, BodyBytes = body.Count, Status = answer.Status, Description = answer.Description, RetryAfter = answer.RetryAfter,
                Parameters = parameters,
            });
        }

        context.Response.StatusCode = answer.Status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(answer.Json);
    }

    private async Task<Answer> AnswerAsync(string token, string method, int call, DateTimeOffset receivedAt, IFormCollection? form, JsonObject parameters)
    {
        if (token != Token)
        {
            return Error(401, "Unauthorized");
        }

        lock (_gate)
        {
            if (receivedAt < _floodUntil)
            {
                return Flooded((int)Math.Ceiling((_floodUntil - receivedAt).TotalSeconds));
            }

            if (_floods.FirstOrDefault(f => f.Method == method && f.Call == call) is { } flood)
            {
                return Flooded(flood.RetryAfterSeconds) with { OpensFloodWindow = true };
            }
        }

        return method switch
        {
            "sendDocument" => await SendDocumentAsync(form!, call),
            "sendMessage" => SendMessage(parameters),
            "getFile" => GetFile(parameters),
            "deleteMessage" => DeleteMessage(parameters),
            "deleteMessages" => DeleteMessages(parameters),
            _ => Error(404, "Not Found"),
        };
    }

    private async Task<Answer> SendDocumentAsync(IFormCollection form, int call)
    {
        if (!IsOurChat(form["chat_id"].ToString()))
        {
            return Error(400, "Bad Request: chat not found");
        }

        var caption = form["caption"].ToString();
        if (caption.Length > MaxCaptionLength)
        {
            return Error(400, "Bad Request: message caption is too long");
        }

        var field = form["document"].ToString();
        var file = field.StartsWith("attach://", StringComparison.Ordinal) ? form.Files[field["attach://".Length..]] : form.Files["document"];
        if (file is null)
        {
            return Error(400, "Bad Request: there is no document in the request");
        }

        var id = Interlocked.Increment(ref _nextMessageId);
        var path = Path.Combine(_files.Path, $"{id}.bin");
        await using (var output = File.Create(path))
        {
            await file.CopyToAsync(output);
        }

        var message = new FakeMessage(id, _clock.GetUtcNow(), $"file-{id}", file.FileName, file.Length, caption, path);
        _messages[id] = message;
        var answer = Ok(new JsonObject
        {
            ["message_id"] = id,
            ["date"] = message.Date.ToUnixTimeSeconds(),
            ["chat"] = new JsonObject { ["id"] = ChatId, ["type"] = "channel", ["title"] = "Backups" },
            ["document"] = new JsonObject
            {
                ["file_id"] = message.FileId, ["file_unique_id"] = $"u{id}", ["file_name"] = message.FileName, ["file_size"] = message.Size,
            },
            ["caption"] = message.Caption,
        });
        if (HoldResponseOnSend is { } accepted && accepted.Call == call)
        {
            accepted.Accepted = message;
            accepted.Arrived.TrySetResult();
            return answer with { Held = accepted };
        }

        return answer;
    }

    private Answer SendMessage(JsonObject body)
    {
        var chat = body["chat_id"]?.ToString();
        if (chat != AlertChatId.ToString() && !IsOurChat(chat))
        {
            return Error(400, "Bad Request: chat not found");
        }

        var id = Interlocked.Increment(ref _nextMessageId);
        TextMessages.Enqueue((chat!, body["text"]?.ToString() ?? ""));
        return Ok(new JsonObject
        {
            ["message_id"] = id,
            ["date"] = _clock.GetUtcNow().ToUnixTimeSeconds(),
            ["chat"] = new JsonObject { ["id"] = long.Parse(chat!.StartsWith('@') ? ChatId.ToString() : chat), ["type"] = "channel", ["title"] = "Alerts" },
            ["text"] = body["text"]?.ToString(),
        });
    }

    private Answer GetFile(JsonObject body)
    {
        var message = _messages.Values.FirstOrDefault(m => m.FileId == body["file_id"]?.ToString());
        if (message is null)
        {
            return Error(400, "Bad Request: invalid file_id");
        }

        if (message.Size > DownloadLimit)
        {
            return Error(400, "Bad Request: file is too big");
        }

        return Ok(new JsonObject
        {
            ["file_id"] = message.FileId, ["file_unique_id"] = $"u{message.Id}", ["file_size"] = message.Size, ["file_path"] = $"documents/{message.FileId}",
        });
    }

    private IResult Download(string token, string path)
    {
        var message = _messages.Values.FirstOrDefault(m => $"documents/{m.FileId}" == path);
        var answer = token != Token ? Error(401, "Unauthorized")
            : message is null ? Error(404, "Not Found")
            : message.Size > DownloadLimit ? Error(400, "Bad Request: file is too big")
            : null;
        var now = _clock.GetUtcNow();
        lock (_gate)
        {
            _requests.Add(new FakeRequest
            {
                Method = "download", ReceivedAt = now, AnsweredAt = now, Status = answer?.Status ?? 200, Description = answer?.Description,
            });
        }

        return answer is null
            ? Results.File(message!.Path, "application/octet-stream")
            : Results.Text(answer.Json, "application/json", statusCode: answer.Status);
    }

    private Answer DeleteMessage(JsonObject body)
    {
        if (!IsOurChat(body["chat_id"]?.ToString()))
        {
            return Error(400, "Bad Request: chat not found");
        }

        var id = (int)body["message_id"]!;
        if (!_messages.TryGetValue(id, out var message))
        {
            return Error(400, "Bad Request: message to delete not found");
        }

        if (!Deletable(message))
        {
            return Error(400, "Bad Request: message can't be deleted");
        }

        _messages.TryRemove(id, out _);
        Deleted.Add(id);
        return Ok(true);
    }

    // Like Telegram: messages that cannot be found or deleted are skipped, and the call still succeeds.
    private Answer DeleteMessages(JsonObject body)
    {
        if (!IsOurChat(body["chat_id"]?.ToString()))
        {
            return Error(400, "Bad Request: chat not found");
        }

        var ids = body["message_ids"]?.AsArray().Select(n => (int)n!).ToList() ?? [];
        if (ids.Count == 0)
        {
            return Error(400, "Bad Request: message identifiers are not specified");
        }

        if (ids.Count > 100)
        {
            return Error(400, "Bad Request: too many message identifiers specified");
        }

        foreach (var id in ids)
        {
            if (_messages.TryGetValue(id, out var message) && Deletable(message))
            {
                _messages.TryRemove(id, out _);
                Deleted.Add(id);
            }
        }

        return Ok(true);
    }

    private bool Deletable(FakeMessage message) => _clock.GetUtcNow() - message.Date < DeletableFor;

    private static bool IsOurChat(string? chat) => chat == ChatId.ToString() || chat == ChannelName;

    private static async Task<JsonObject> JsonBodyAsync(HttpContext context)
    {
        if (context.Request.HasFormContentType)
        {
            var form = await context.Request.ReadFormAsync();
            var result = new JsonObject();
            foreach (var (key, value) in form)
            {
                var text = value.ToString();
                result[key] = text.StartsWith('[') ? JsonNode.Parse(text) : text;
            }

            return result;
        }

        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer);
        return buffer.Length == 0 ? new JsonObject() : JsonNode.Parse(buffer.ToArray())?.AsObject() ?? new JsonObject();
    }

    private static Answer Ok(JsonNode result) => new(200, new JsonObject { ["ok"] = true, ["result"] = result }.ToJsonString());

    private static Answer Error(int code, string description) =>
        new(code, JsonSerializer.Serialize(new { ok = false, error_code = code, description })) { Description = description };

    private static Answer Flooded(int retryAfter)
    {
        var description = $"Too Many Requests: retry after {retryAfter}";
        return new Answer(429, JsonSerializer.Serialize(new { ok = false, error_code = 429, description, parameters = new { retry_after = retryAfter } }))
        {
            Description = description, RetryAfter = retryAfter,
        };
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _files.Dispose();
    }

    private sealed record Answer(int Status, string Json)
    {
        public string? Description { get; init; }
        public int? RetryAfter { get; init; }
        public SendHold? Held { get; init; }

        /// <summary>A scheduled 429: requests before its retry_after has passed are refused too.</summary>
        public bool OpensFloodWindow { get; init; }
    }

    private sealed record ScheduledFlood(string Method, int Call, int RetryAfterSeconds);

    private sealed class BodyTooLargeException : Exception;

    /// <summary>Counts the request body as it is read and stops the reader once it passes the limit.</summary>
    private sealed class CountingStream(Stream inner, long limit) : Stream
    {
        public long Count { get; private set; }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken);
            Count += read;
            return Count > limit ? throw new BodyTooLargeException() : read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

        /// <summary>Reads the rest of the body, counting it, and drops it.</summary>
        public async Task DrainAsync()
        {
            var buffer = new byte[1 << 16];
            int read;
            while ((read = await inner.ReadAsync(buffer)) > 0)
            {
                Count += read;
            }
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => Count; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

public sealed record FakeMessage(int Id, DateTimeOffset Date, string FileId, string FileName, long Size, string Caption, string Path);

/// <summary>
/// One request to the fake as it saw it: when it arrived and was answered (by the fake's clock), its Content-Length
/// header (null when chunked) and the body bytes actually counted, the answer, and the parameters it carried.
/// </summary>
public sealed record FakeRequest
{
    public required string Method { get; init; }
    public DateTimeOffset ReceivedAt { get; init; }
    public DateTimeOffset AnsweredAt { get; init; }
    public long? ContentLength { get; init; }
    public long BodyBytes { get; init; }
    public int Status { get; init; }
    public string? Description { get; init; }
    public int? RetryAfter { get; init; }
    public JsonObject? Parameters { get; init; }
}

/// <summary>Holds the <see cref="Call"/>-th sendDocument: <see cref="Arrived"/> completes when it comes in, and it goes on when <see cref="Release"/> completes.</summary>
public sealed class SendHold(int call)
{
    public int Call { get; } = call;

    /// <summary>The message created before the answer was held (<see cref="FakeTelegramBotApi.HoldResponseOnSend"/>).</summary>
    public FakeMessage? Accepted { get; set; }

    public TaskCompletionSource Arrived { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

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
/// A fake Telegram Bot API on loopback (Kestrel) that behaves like Telegram where the backup depends on it: the token in
/// the path (401 for a wrong one), multipart <c>sendDocument</c> (also with <c>attach://</c>), 413 above 50 MB,
/// <c>getFile</c> and the download refusing files above 20 MB ("file is too big"), <c>deleteMessage</c> /
/// <c>deleteMessages</c> (1–100 ids) refusing messages older than 48 hours by its clock, 429 with <c>retry_after</c> on
/// demand, and 400 "chat not found". In local-server mode (<see cref="LocalServer"/>) uploads go to 2000 MB and
/// downloads have no limit. Uploaded files are kept on disk, not in memory.
/// </summary>
public sealed class FakeTelegramBotApi : IAsyncDisposable
{
    public const long ChatId = -1001234567890;
    public const string ChannelName = "@teleguard_backups";

    /// <summary>The operators' chat that alerts go to (TELEGRAM_ALERT_CHAT_ID).</summary>
    public const long AlertChatId = -1009876543210;

    private readonly WebApplication _app;
    private readonly TimeProvider _clock;
    private readonly TemporaryDirectory _files = new();
    private readonly ConcurrentDictionary<int, FakeMessage> _messages = new();
    private int _nextMessageId = 100;
    private int _sendCalls;

    private FakeTelegramBotApi(WebApplication app, TimeProvider clock, string token)
    {
        _app = app;
        _clock = clock;
        Token = token;
        Directory.CreateDirectory(_files.Path);
    }

    public string Token { get; }
    public string BaseUrl { get; private set; } = "";
    public bool LocalServer { get; init; }

    /// <summary>The channel as it is now (deleted messages are gone).</summary>
    public IReadOnlyCollection<FakeMessage> Messages => _messages.Values.OrderBy(m => m.Id).ToList();

    /// <summary>Every message id ever deleted.</summary>
    public ConcurrentBag<int> Deleted { get; } = [];

    /// <summary>Texts sent with sendMessage, as (chat id, text).</summary>
    public ConcurrentQueue<(string Chat, string Text)> TextMessages { get; } = new();

    /// <summary>Holds the n-th sendDocument call before its body is read, as a slow upload; see <see cref="SendHold"/>.</summary>
    public SendHold? HoldOnSend { get; set; }

    /// <summary>
    /// Accepts the n-th sendDocument (the message is in the channel) and then holds its answer, as Telegram does when
    /// the uploader dies between Telegram accepting a part and hearing about it; see <see cref="SendHold"/>.
    /// </summary>
    public SendHold? HoldResponseOnSend { get; set; }

    /// <summary>The n-th sendDocument call (1-based) answers 429 with this retry_after, once.</summary>
    public (int Call, int RetryAfterSeconds)? FloodOnSend { get; set; }

    public static async Task<FakeTelegramBotApi> StartAsync(TimeProvider clock, bool localServer = false)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.WebHost.ConfigureKestrel(o => o.Limits.MaxRequestBodySize = null);
        builder.Services.Configure<FormOptions>(o => o.MultipartBodyLengthLimit = long.MaxValue);
        var app = builder.Build();
        var fake = new FakeTelegramBotApi(app, clock, $"{Random.Shared.Next(100000, 999999)}:AAFakeTokenForTests_{Guid.NewGuid():N}") { LocalServer = localServer };
        app.MapPost("/bot{token}/{method}", fake.HandleAsync);
        app.MapGet("/file/bot{token}/{**path}", fake.DownloadAsync);
        await app.StartAsync();
        fake.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return fake;
    }

    public byte[] ReadFile(FakeMessage message) => File.ReadAllBytes(message.Path);

    private long UploadLimit => LocalServer ? 2000L * 1000 * 1000 : 50L * 1000 * 1000;
    private long DownloadLimit => LocalServer ? long.MaxValue : 20L * 1000 * 1000;

    private async Task<IResult> HandleAsync(HttpContext context, string token, string method)
    {
        if (token != Token)
        {
            return Error(401, "Unauthorized");
        }

        return method switch
        {
            "sendDocument" => await SendDocumentAsync(context),
            "sendMessage" => SendMessage(await JsonBodyAsync(context)),
            "getFile" => GetFile(await JsonBodyAsync(context)),
            "deleteMessage" => DeleteMessage(await JsonBodyAsync(context)),
            "deleteMessages" => DeleteMessages(await JsonBodyAsync(context)),
            _ => Error(404, "Not Found"),
        };
    }

    private async Task<IResult> SendDocumentAsync(HttpContext context)
    {
        var call = Interlocked.Increment(ref _sendCalls);
        if (context.Request.ContentLength > UploadLimit)
        {
            await context.Request.Body.CopyToAsync(Stream.Null);
            return Error(413, "Request Entity Too Large");
        }

        if (HoldOnSend is { } hold && hold.Call == call)
        {
            hold.Arrived.TrySetResult();
            try
            {
                await hold.Release.Task.WaitAsync(context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                return Results.Empty; // the uploader went away mid-upload: no message, as with Telegram
            }
        }

        var form = await context.Request.ReadFormAsync();
        if (FloodOnSend is { } flood && flood.Call == call)
        {
            return Results.Json(new { ok = false, error_code = 429, description = $"Too Many Requests: retry after {flood.RetryAfterSeconds}",
                parameters = new { retry_after = flood.RetryAfterSeconds } }, statusCode: 429);
        }

        if (!IsOurChat(form["chat_id"].ToString()))
        {
            return Error(400, "Bad Request: chat not found");
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

        var message = new FakeMessage(id, _clock.GetUtcNow(), $"file-{id}", file.FileName, file.Length, form["caption"].ToString(), path);
        _messages[id] = message;
        if (HoldResponseOnSend is { } accepted && accepted.Call == call)
        {
            accepted.Accepted = message;
            accepted.Arrived.TrySetResult();
            try
            {
                await accepted.Release.Task.WaitAsync(context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                return Results.Empty; // the uploader went away: the message stays, known to no one
            }
        }

        return Ok(new JsonObject
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
    }

    private IResult SendMessage(JsonObject body)
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

    private IResult GetFile(JsonObject body)
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

    private async Task<IResult> DownloadAsync(HttpContext context, string token, string path)
    {
        var message = _messages.Values.FirstOrDefault(m => $"documents/{m.FileId}" == path);
        if (token != Token)
        {
            return Error(401, "Unauthorized");
        }

        if (message is null)
        {
            return Error(404, "Not Found");
        }

        if (message.Size > DownloadLimit)
        {
            return Error(400, "Bad Request: file is too big");
        }

        await Task.CompletedTask;
        return Results.File(message.Path, "application/octet-stream");
    }

    private IResult DeleteMessage(JsonObject body)
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
    private IResult DeleteMessages(JsonObject body)
    {
        if (!IsOurChat(body["chat_id"]?.ToString()))
        {
            return Error(400, "Bad Request: chat not found");
        }

        var ids = body["message_ids"]?.AsArray().Select(n => (int)n!).ToList() ?? [];
        if (ids.Count is < 1 or > 100)
        {
            return Error(400, "Bad Request: message_ids must contain 1-100 identifiers");
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

    private bool Deletable(FakeMessage message) => _clock.GetUtcNow() - message.Date < TimeSpan.FromHours(48);

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

        return (await JsonNode.ParseAsync(context.Request.Body))?.AsObject() ?? new JsonObject();
    }

    private static IResult Ok(JsonNode result) => Results.Text(new JsonObject { ["ok"] = true, ["result"] = result }.ToJsonString(), "application/json");

    private static IResult Error(int code, string description) =>
        Results.Text(JsonSerializer.Serialize(new { ok = false, error_code = code, description }), "application/json", statusCode: code);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _files.Dispose();
    }
}

public sealed record FakeMessage(int Id, DateTimeOffset Date, string FileId, string FileName, long Size, string Caption, string Path);

/// <summary>Holds the <see cref="Call"/>-th sendDocument: <see cref="Arrived"/> completes when it comes in, and it goes on when <see cref="Release"/> completes.</summary>
public sealed class SendHold(int call)
{
    public int Call { get; } = call;

    /// <summary>The message created before the answer was held (<see cref="FakeTelegramBotApi.HoldResponseOnSend"/>).</summary>
    public FakeMessage? Accepted { get; set; }

    public TaskCompletionSource Arrived { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

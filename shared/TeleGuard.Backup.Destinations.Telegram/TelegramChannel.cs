using Microsoft.Extensions.Options;
using Telegram.Bot;
using Telegram.Bot.Exceptions;
using Telegram.Bot.Types;
using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>
/// The Bot API calls the sink makes, with flood control honoured (HTTP 429: wait <c>retry_after</c>, then again) and
/// errors turned into messages without the token (it is part of every request URL, so URLs are never logged or
/// quoted). Failures retrying cannot fix (wrong token, unknown chat, file too large) are permanent.
/// </summary>
public sealed partial class TelegramChannel(IOptions<TelegramSinkOptions> options, TimeProvider time, ILogger<TelegramChannel> logger) : IDisposable
{
    private const int FloodRetries = 10;
    private static readonly TimeSpan MaxFloodWait = TimeSpan.FromMinutes(10);

    // Added to every retry_after: timers may fire a few milliseconds early, and a request even that early is refused again.
    private static readonly TimeSpan FloodMargin = TimeSpan.FromMilliseconds(250);
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromMinutes(30) };
    private TelegramBotClient? _bot;

    private TelegramBotClient Bot => _bot ??= new TelegramBotClient(
        new TelegramBotClientOptions(options.Value.Token, options.Value.BaseUrl) { RetryCount = 0 }, _http);

    private ChatId Chat => long.TryParse(options.Value.Channel, out var id) ? new ChatId(id) : new ChatId(options.Value.Channel);

    /// <summary>The channel this sink posts to and deletes in (TELEGRAM_CHANNEL_ID), as recorded with each copy.</summary>
    public string ChannelId => options.Value.Channel;

    /// <summary>Uploads one file as a document with a caption; returns (message id, file id).</summary>
    public Task<(int MessageId, string FileId)> SendDocumentAsync(Func<Stream> content, string fileName, string caption, CancellationToken cancellationToken) =>
        CallAsync("sendDocument", async ct =>
        {
            await using var stream = content();
            var message = await Bot.SendDocument(Chat, InputFile.FromStream(stream, fileName), caption: caption, cancellationToken: ct);
            return (message.Id, message.Document?.FileId ?? "");
        }, cancellationToken);

    /// <summary>Sends a text message (alerts) to <paramref name="chat"/> (a numeric id or @name).</summary>
    public Task SendTextAsync(string chat, string text, CancellationToken cancellationToken) =>
        CallAsync("sendMessage", async ct =>
        {
            await Bot.SendMessage(long.TryParse(chat, out var id) ? new ChatId(id) : new ChatId(chat), text, cancellationToken: ct);
            return true;
        }, cancellationToken);

    /// <summary>
    /// The channel's current message id: posts a short text and deletes it at once. Message ids in a channel grow by
    /// one with every message, so this bounds where messages sent before it can be (bots cannot read history).
    /// </summary>
    public async Task<int> MarkPositionAsync(CancellationToken cancellationToken)
    {
        var id = await CallAsync("sendMessage", async ct =>
            (await Bot.SendMessage(Chat, "TeleGuard backup: position marker (deleted at once)", cancellationToken: ct)).Id, cancellationToken);
        await DeleteMessagesAsync([id], cancellationToken);
        return id;
    }

    /// <summary>Deletes 1–100 messages in one call (Telegram skips those it cannot delete, and says nothing about them).</summary>
    public Task DeleteMessagesAsync(IReadOnlyList<int> messageIds, CancellationToken cancellationToken) =>
        CallAsync("deleteMessages", async ct =>
        {
            await Bot.DeleteMessages(Chat, messageIds, ct);
            return true;
        }, cancellationToken);

    /// <summary>Downloads a file by id (restore): the hosted API serves files up to 20 MB, a local server any size.</summary>
    public Task DownloadAsync(string fileId, Stream destination, CancellationToken cancellationToken) =>
        CallAsync("getFile", async ct =>
        {
            var file = await Bot.GetFile(fileId, ct);
            await Bot.DownloadFile(file.FilePath!, destination, ct);
            return true;
        }, cancellationToken);

    private async Task<T> CallAsync<T>(string method, Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call(cancellationToken);
            }
            catch (ApiRequestException e) when (e.ErrorCode == 429 && attempt <= FloodRetries)
            {
                var retryAfter = TimeSpan.FromSeconds(Math.Max(1, e.Parameters?.RetryAfter ?? 5));
                if (retryAfter > MaxFloodWait)
                {
                    throw new TelegramCallException($"Telegram {method}: flood control asks to wait {retryAfter.TotalSeconds:0} s; giving up for now.", refused: true);
                }

                LogFloodControl(logger, method, retryAfter.TotalSeconds, attempt);
                await Task.Delay(retryAfter + FloodMargin, time, cancellationToken);
            }
            catch (ApiRequestException e) when (e.ErrorCode is 400 or 401 or 403 or 404 or 413)
            {
                var hint = e.ErrorCode switch
                {
                    401 or 404 => " (check TELEGRAM_BOT_TOKEN)",
                    403 => " (is the bot an administrator of the channel?)",
                    413 => $" (the part is larger than the server accepts: lower {TelegramSinkOptions.PartSizeVariable})",
                    _ when e.Message.Contains("file is too big", StringComparison.OrdinalIgnoreCase) =>
                        $" (the hosted Bot API serves files up to 20 MB: restore through a local Bot API server, {TelegramSinkOptions.LocalApiVariable}=true)",
                    _ when e.Message.Contains("chat not found", StringComparison.OrdinalIgnoreCase) => " (check TELEGRAM_CHANNEL_ID)",
                    _ => "",
                };
                throw new PermanentFailureException($"Telegram {method} refused: {e.ErrorCode} {ErrorText.Redact(e.Message)}{hint}");
            }
            catch (ApiRequestException e)
            {
                throw new TelegramCallException($"Telegram {method} failed: {e.ErrorCode} {ErrorText.Redact(e.Message)}", refused: true);
            }
            catch (RequestException e)
            {
                // Transport errors: the inner exception may carry the request, whose URL holds the token. Keep only types.
                throw new TelegramCallException($"Telegram {method} failed: {e.GetType().Name} ({e.InnerException?.GetType().Name ?? "no detail"}).");
            }
            catch (HttpRequestException e)
            {
                throw new TelegramCallException($"Telegram {method} failed: {e.GetType().Name} {e.HttpRequestError}.");
            }
        }
    }

    public void Dispose()
    {
        _http.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Telegram {Method}: flood control, waiting {Seconds} s as asked (attempt {Attempt})")]
    private static partial void LogFloodControl(ILogger logger, string method, double seconds, int attempt);
}

using Microsoft.Extensions.Configuration;
using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Hosting;

/// <summary>
/// <c>RABBITMQ_URI</c> (<c>amqp://user:pass@host:port/vhost</c>, user and password percent-encoded); unset means
/// MassTransit's in-memory transport, which only connects services inside one process. <c>RABBITMQ_PASSWORD</c>, when
/// set, is the password as it is (no escaping), and wins over one in the URI: docker compose cannot percent-encode a
/// password it places in a URI. Retry settings apply to every consumer.
/// </summary>
public sealed class BusOptions
{
    public const string RabbitMqUriVariable = "RABBITMQ_URI";
    public const string RabbitMqPasswordVariable = "RABBITMQ_PASSWORD";

    [ConfigurationKeyName(RabbitMqUriVariable)]
    [AmqpUri]
    public string? RabbitMqUri { get; set => field = Setting.Clean(value); }

    [ConfigurationKeyName(RabbitMqPasswordVariable)]
    public string? RabbitMqPassword { get; set => field = Setting.Clean(value); }

    /// <summary><c>RETRY_LIMIT</c>: immediate retries (with exponential backoff) before a message goes to its _error queue.</summary>
    [ConfigurationKeyName("RETRY_LIMIT")]
    [WholeNumber(0, 100)]
    public string? RetryLimitText { get; set => field = Setting.Clean(value); }

    [ConfigurationKeyName("RETRY_MIN_SECONDS")]
    [WholeNumber(0, 3600)]
    public string? RetryMinSeconds { get; set => field = Setting.Clean(value); }

    [ConfigurationKeyName("RETRY_MAX_SECONDS")]
    [WholeNumber(1, 3600)]
    public string? RetryMaxSeconds { get; set => field = Setting.Clean(value); }

    public bool UseRabbitMq => RabbitMqUri is not null;
    public bool UseTls => ParsedUri?.Scheme == "amqps";
    public string Host => ParsedUri?.Host ?? "";
    public ushort Port => ParsedUri is not { } uri ? (ushort)5672 : (ushort)(uri.IsDefaultPort || uri.Port <= 0 ? (UseTls ? 5671 : 5672) : uri.Port);

    public string VirtualHost =>
        ParsedUri is { AbsolutePath.Length: > 1 } uri && Uri.UnescapeDataString(uri.AbsolutePath[1..]) is { Length: > 0 } path ? path : "/";

    public string Username => ParsedUri is { UserInfo.Length: > 0 } uri ? Uri.UnescapeDataString(uri.UserInfo.Split(':', 2)[0]) : "guest";

    public string Password =>
        RabbitMqPassword
        ?? (ParsedUri is { UserInfo.Length: > 0 } uri ? (uri.UserInfo.Split(':', 2) is [_, var password] ? Uri.UnescapeDataString(password) : "") : "guest");

    public int RetryLimit => Setting.WholeNumber(RetryLimitText, 5);
    public TimeSpan RetryMinInterval => TimeSpan.FromSeconds(Setting.WholeNumber(RetryMinSeconds, 1));
    public TimeSpan RetryMaxInterval => TimeSpan.FromSeconds(Setting.WholeNumber(RetryMaxSeconds, 60));

    private Uri? ParsedUri => RabbitMqUri is not null && AmqpUriAttribute.TryParse(RabbitMqUri, out var uri) ? uri : null;
}

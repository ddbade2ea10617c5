using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Hosting;

/// <summary>
/// <c>RABBITMQ_URI</c> (<c>amqp://user:pass@host:port/vhost</c>, user and password percent-encoded); unset means
/// MassTransit's in-memory transport, which only connects services inside one process. <c>RABBITMQ_PASSWORD</c>, when
/// set, is the password as it is (no escaping), and wins over one in the URI: docker compose cannot percent-encode a
/// password it places in a URI. Retry settings apply to every consumer.
/// </summary>
public sealed class BusOptions : EnvironmentOptions
{
    public const string RabbitMqUriVariable = "RABBITMQ_URI";
    public const string RabbitMqPasswordVariable = "RABBITMQ_PASSWORD";

    public bool UseRabbitMq { get; private set; }
    public string Host { get; private set; } = "";
    public ushort Port { get; private set; } = 5672;
    public string VirtualHost { get; private set; } = "/";
    public string Username { get; private set; } = "guest";
    public string Password { get; private set; } = "guest";
    public bool UseTls { get; private set; }

    /// <summary><c>RETRY_LIMIT</c>: immediate retries (with exponential backoff) before a message goes to its _error queue.</summary>
    public int RetryLimit { get; private set; } = 5;
    public TimeSpan RetryMinInterval { get; private set; } = TimeSpan.FromSeconds(1);
    public TimeSpan RetryMaxInterval { get; private set; } = TimeSpan.FromSeconds(60);

    protected override void Read(SettingsReader settings)
    {
        RetryLimit = settings.WholeNumber("RETRY_LIMIT", 5, 0, 100);
        RetryMinInterval = TimeSpan.FromSeconds(settings.WholeNumber("RETRY_MIN_SECONDS", 1, 0, 3600));
        RetryMaxInterval = TimeSpan.FromSeconds(settings.WholeNumber("RETRY_MAX_SECONDS", 60, 1, 3600));

        var text = settings.Optional(RabbitMqUriVariable);
        if (text is null)
        {
            return;
        }

        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("amqp" or "amqps") || uri.Host.Length == 0)
        {
            settings.Fail(RabbitMqUriVariable, "must be amqp://user:password@host:port/vhost");
            return;
        }

        UseRabbitMq = true;
        UseTls = uri.Scheme == "amqps";
        Host = uri.Host;
        Port = (ushort)(uri.IsDefaultPort || uri.Port <= 0 ? (UseTls ? 5671 : 5672) : uri.Port);
        var path = uri.AbsolutePath.Length > 1 ? Uri.UnescapeDataString(uri.AbsolutePath[1..]) : "";
        VirtualHost = path.Length == 0 ? "/" : path;
        if (uri.UserInfo.Length > 0)
        {
            var parts = uri.UserInfo.Split(':', 2);
            Username = Uri.UnescapeDataString(parts[0]);
            Password = parts.Length > 1 ? Uri.UnescapeDataString(parts[1]) : "";
        }

        if (settings.Optional(RabbitMqPasswordVariable) is { } password)
        {
            Password = password;
        }
    }
}

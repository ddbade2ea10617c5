using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Hosting;

/// <summary>Unset, or <c>amqp://</c> / <c>amqps://</c> with a host.</summary>
public sealed class AmqpUriAttribute : SettingRuleAttribute
{
    public static bool TryParse(string text, out Uri uri) =>
        Uri.TryCreate(text, UriKind.Absolute, out uri!) && uri.Scheme is "amqp" or "amqps" && uri.Host.Length > 0;

    protected override string? ProblemWith(string? text) =>
        text is null || TryParse(text, out _) ? null : "must be amqp://user:password@host:port/vhost";
}

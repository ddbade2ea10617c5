using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Storage;

/// <summary>Unset, or <c>redis://[:password@]host:port[/db]</c> (<c>rediss://</c> for TLS).</summary>
public sealed class RedisUrlAttribute : SettingRuleAttribute
{
    public static bool TryParse(string text, out Uri uri) =>
        Uri.TryCreate(text, UriKind.Absolute, out uri!) && uri.Scheme is "redis" or "rediss" && uri.Host.Length > 0;

    /// <summary>The database number in the URL's path (0 when there is none), or null when it is not a whole number.</summary>
    public static int? DatabaseOf(Uri uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var path = uri.AbsolutePath.Trim('/');
        return path.Length == 0 ? 0
            : int.TryParse(path, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var database) ? database
            : null;
    }

    protected override string? ProblemWith(string? text) =>
        text is null ? null
        : !TryParse(text, out var uri) ? "must be redis://[:password@]host:port[/db]"
        : DatabaseOf(uri) is null ? "has a database number in its path that is not a whole number"
        : null;
}

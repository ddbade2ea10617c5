using System.Text.RegularExpressions;

namespace TeleGuard.Backup.Hosting;

/// <summary>
/// Error text fit for logs and <c>backups_meta</c>: the exception type and message, with any credentials that a
/// library put into a URI (<c>scheme://user:secret@host</c>) removed.
/// </summary>
public static partial class ErrorText
{
    public static string Describe(Exception exception)
    {
        var root = exception is AggregateException { InnerExceptions.Count: 1 } aggregate ? aggregate.InnerExceptions[0] : exception;
        var text = $"{root.GetType().Name}: {root.Message}";
        return Redact(text.Length > 2000 ? text[..2000] + "…" : text);
    }

    public static string Redact(string text) => UriCredentials().Replace(text, "://***@");

    [GeneratedRegex(@"://[^/\s@]+@")]
    private static partial Regex UriCredentials();
}

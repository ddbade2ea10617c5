using System.Globalization;
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
        var root = Root(exception);
        var text = $"{root.GetType().Name}: {root.Message}";
        return Redact(text.Length > 2000 ? text[..2000] + "…" : text);
    }

    /// <summary>
    /// <see cref="Describe"/> on one line, for a command's error. A MongoDB server-selection timeout, whose message is
    /// the driver's whole view of the cluster (with the stack traces of its heartbeats), becomes which servers did not
    /// answer, within how long, and the socket error if there was one.
    /// </summary>
    public static string OneLine(Exception exception)
    {
        var root = Root(exception);
        if (root is TimeoutException && ServerSelectionTimeout().Match(root.Message) is { Success: true } timeout)
        {
            // The time actually waited (2991ms for a 3 s timeout), said as the timeout it was.
            var waited = double.Parse(timeout.Groups["ms"].Value, CultureInfo.InvariantCulture) / 1000;
            var seconds = waited < 1 ? Math.Round(waited, 1) : Math.Round(waited);
            var servers = string.Join(", ", EndPoint().Matches(root.Message).Select(m => m.Groups["server"].Value).Distinct());
            var reason = SocketError().Match(root.Message) is { Success: true } socket ? $": {socket.Groups["reason"].Value.TrimEnd('.')}" : "";
            return Redact(string.Create(CultureInfo.InvariantCulture,
                $"no MongoDB server answered within {seconds:0.#} s ({(servers.Length > 0 ? servers : "no server known")}{reason})"));
        }

        if (Chain(exception).Any(e => e.GetType().Name == "AuthenticationFailureException"))
        {
            return "RabbitMQ refused the login: check the user in RABBITMQ_URI and the password (RABBITMQ_PASSWORD, or percent-encoded in RABBITMQ_URI)";
        }

        if (Chain(exception).Any(e => e.GetType().Name == "BrokerUnreachableException"))
        {
            return "RabbitMQ is unreachable: check RABBITMQ_URI's host and port, and that the broker is running";
        }

        // The operator reads what went wrong, not the exception's type (logs and backups_meta keep the type).
        var text = Redact(root.Message.Length > 0 ? root.Message : root.GetType().Name);
        if (text.Length > 2000)
        {
            text = text[..2000] + "…";
        }

        var lineBreak = text.IndexOfAny(['\r', '\n']);
        return Printable(lineBreak < 0 ? text : text[..lineBreak].TrimEnd() + " …");
    }

    /// <summary>
    /// Text that may come from a hostile file (a collection name, a JSON key) must not drive the operator's terminal:
    /// control characters (escape sequences, carriage returns) are shown as <c>?</c>.
    /// </summary>
    public static string Printable(string text) =>
        text.Any(char.IsControl) ? string.Concat(text.Select(c => char.IsControl(c) ? '?' : c)) : text;

    private static IEnumerable<Exception> Chain(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            yield return e;
            if (e is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions.SelectMany(Chain))
                {
                    yield return inner;
                }
            }
        }
    }

    public static string Redact(string text) => UriCredentials().Replace(text, "://***@");

    private static Exception Root(Exception exception) =>
        exception is AggregateException { InnerExceptions.Count: 1 } aggregate ? aggregate.InnerExceptions[0] : exception;

    [GeneratedRegex(@"://[^/\s@]+@")]
    private static partial Regex UriCredentials();

    [GeneratedRegex(@"^A timeout occurred after (?<ms>\d+)ms selecting a server")]
    private static partial Regex ServerSelectionTimeout();

    // A server in the driver's cluster description: EndPoint: "Unspecified/host:27017".
    [GeneratedRegex(@"EndPoint: ""(?:\w+/)?(?<server>[^""]+)""")]
    private static partial Regex EndPoint();

    // The innermost cause of a failed heartbeat, e.g. SocketException (111): Connection refused.
    [GeneratedRegex(@"SocketException \(\d+\): (?<reason>[^\r\n""]+)")]
    private static partial Regex SocketError();
}

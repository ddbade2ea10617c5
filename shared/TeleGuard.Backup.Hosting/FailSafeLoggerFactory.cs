using Microsoft.Extensions.Logging;

namespace TeleGuard.Backup.Hosting;

/// <summary>
/// The logger factory every service uses: the same loggers, except that an exception thrown while writing a line (for
/// example the JSON console formatter given a value it cannot convert) is counted in <see cref="LogWriteFailures"/>
/// instead of reaching the code that logged. A log call can then never fail a snapshot, a copy or a retention run.
/// </summary>
public sealed class FailSafeLoggerFactory(ILoggerFactory inner, LogWriteFailures failures) : ILoggerFactory
{
    public ILogger CreateLogger(string categoryName) => new FailSafeLogger(inner.CreateLogger(categoryName), categoryName, failures);

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    public void Dispose() => inner.Dispose();

    private sealed class FailSafeLogger(ILogger inner, string category, LogWriteFailures failures) : ILogger
    {
        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull
        {
            try
            {
                return inner.BeginScope(state);
            }
            catch (Exception e)
            {
                failures.Record(category, "(scope)", e);
                return null;
            }
        }

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            try
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
            catch (Exception e)
            {
                failures.Record(category, Template(state), e);
            }
        }

        // The message template ("{Sink}: snapshot {SnapshotId} copied"), never the values: they may be what failed.
        private static string? Template<TState>(TState state) =>
            state is IEnumerable<KeyValuePair<string, object?>> properties
                ? properties.FirstOrDefault(p => p.Key == "{OriginalFormat}").Value as string
                : null;
    }
}

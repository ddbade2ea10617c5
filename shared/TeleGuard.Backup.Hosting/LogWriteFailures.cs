using System.Diagnostics.Metrics;

namespace TeleGuard.Backup.Hosting;

/// <summary>
/// Log lines that could not be written (a log provider or its formatter threw). Each is counted (metric
/// <c>teleguard.log.write_failures</c>) and reported on stderr by its message template, never its values; the
/// operation that logged goes on (<see cref="FailSafeLoggerFactory"/>).
/// </summary>
public sealed class LogWriteFailures : IDisposable
{
    private readonly Meter _meter = new(BackupMetrics.MeterName);
    private readonly Counter<long> _counter;
    private long _count;

    public LogWriteFailures()
    {
        _counter = _meter.CreateCounter<long>("teleguard.log.write_failures", description: "Log lines a log provider failed to write.");
    }

    /// <summary>How many log lines could not be written since the process started.</summary>
    public long Count => Interlocked.Read(ref _count);

    public void Record(string category, string? messageTemplate, Exception exception)
    {
        Interlocked.Increment(ref _count);
        _counter.Add(1);
        try
        {
            Console.Error.WriteLine(
                $"teleguard-backup: a log line of {category} could not be written ({exception.GetType().Name}): {messageTemplate ?? "(no message template)"}");
        }
        catch (IOException)
        {
            // stderr is gone: the count is all that is left.
        }
    }

    public void Dispose() => _meter.Dispose();
}

using System.Diagnostics.Metrics;

namespace TeleGuard.Backup.Hosting;

/// <summary>
/// The service metrics, exported for Prometheus at <c>/metrics</c> (OpenTelemetry): snapshots created, sink outcomes
/// by destination and status, durations, bytes, and the age of the newest complete snapshot.
/// </summary>
public sealed class BackupMetrics : IDisposable
{
    public const string MeterName = "TeleGuard.Backup";

    private readonly Meter _meter = new(MeterName);
    private readonly Counter<long> _snapshotsCreated;
    private readonly Counter<long> _artifactBytes;
    private readonly Histogram<double> _exportDuration;
    private readonly Counter<long> _sinkOutcomes;
    private readonly Histogram<double> _sinkDuration;
    private double? _lastCompleteAgeSeconds;

    public BackupMetrics()
    {
        _snapshotsCreated = _meter.CreateCounter<long>("teleguard.snapshots.created", description: "Snapshots exported and stored as artifacts.");
        _artifactBytes = _meter.CreateCounter<long>("teleguard.snapshot.artifact.bytes", unit: "By", description: "Bytes of snapshot artifacts stored.");
        _exportDuration = _meter.CreateHistogram<double>("teleguard.snapshot.export.duration", unit: "s", description: "Time to export and store a snapshot.");
        _sinkOutcomes = _meter.CreateCounter<long>("teleguard.sink.outcomes", description: "Destination outcomes by destination and status.");
        _sinkDuration = _meter.CreateHistogram<double>("teleguard.sink.duration", unit: "s", description: "Time a destination took for one snapshot.");
        _meter.CreateObservableGauge<double>("teleguard.snapshot.last_complete.age",
            () => _lastCompleteAgeSeconds is { } age ? [new Measurement<double>(age)] : Array.Empty<Measurement<double>>(),
            unit: "s", description: "Age of the newest complete snapshot (absent when there is none).");
    }

    public void SnapshotCreated(long artifactBytes, TimeSpan duration)
    {
        _snapshotsCreated.Add(1);
        _artifactBytes.Add(artifactBytes);
        _exportDuration.Record(duration.TotalSeconds);
    }

    public void SinkOutcome(string destination, string status, TimeSpan duration)
    {
        _sinkOutcomes.Add(1, new KeyValuePair<string, object?>("destination", destination), new KeyValuePair<string, object?>("status", status));
        _sinkDuration.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("destination", destination));
    }

    public void LastCompleteAge(TimeSpan? age) => _lastCompleteAgeSeconds = age?.TotalSeconds;

    public void Dispose() => _meter.Dispose();
}

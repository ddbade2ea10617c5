namespace TeleGuard.Backup.Destinations;

/// <summary>
/// Another instance took over the sink's work on a snapshot (this attempt's lease expired): the attempt stops, records
/// nothing and leaves nothing behind; its message is retried and finds the other instance's result.
/// </summary>
public sealed class SinkLeaseLostException(string sink, string snapshotId)
    : Exception($"{sink}: another instance took over snapshot {snapshotId}; this attempt stopped.");

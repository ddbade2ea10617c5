namespace TeleGuard.Backup.Storage;

/// <summary>
/// Where a destination's copy of a snapshot is (<c>sinks.NAME.location</c>: a commit, message ids...). Each destination
/// defines its own in its library; read one back with <see cref="SinkRecord.LocationAs{T}"/>.
/// </summary>
public abstract class SinkLocation : SinkDocument;

namespace TeleGuard.Backup.Storage;

/// <summary>
/// What a destination's retention removed of a copy and what it could not (<c>sinks.NAME.removal</c>). Each destination
/// defines its own in its library; read one back with <see cref="SinkRecord.RemovalAs{T}"/>.
/// </summary>
public abstract class SinkRemoval : SinkDocument;

namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>An increment read back from a destination: its manifest and its <c>events.jsonl</c> on local disk.</summary>
public sealed record ExtractedIncrement(IncrementManifest Manifest, string EventsFile);

using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Destinations;

/// <summary>An increment downloaded from the artifact store and checked.</summary>
/// <param name="ManifestBytes">The manifest exactly as the recorder wrote it.</param>
/// <param name="ArtifactFile">The whole artifact (the increment archive), as announced.</param>
/// <param name="EventsFile">Its <c>events.jsonl</c>, checked against the manifest.</param>
public sealed record VerifiedIncrement(IncrementManifest Manifest, byte[] ManifestBytes, string ArtifactFile, string EventsFile);

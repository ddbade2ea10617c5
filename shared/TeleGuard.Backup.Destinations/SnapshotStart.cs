using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Destinations;

/// <summary>A snapshot a destination holds that a history can start from: read at one cluster time.</summary>
public sealed record SnapshotStart(string SnapshotId, ClusterTimestamp ClusterTime);

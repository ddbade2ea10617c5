using MassTransit;

namespace TeleGuard.Backup.Contracts;

/// <summary>
/// A snapshot artifact is complete in the artifact store (claim check: the bytes never travel in the message).
/// Every sink consumes it on its own queue.
/// </summary>
/// <param name="ArtifactLocation">Where the artifact is, e.g. <c>gridfs:teleguard_backup/teleguard_artifacts/6b0d9c055d0060dafec282a1</c>.</param>
/// <param name="ArtifactSize">Artifact length in bytes.</param>
/// <param name="ArtifactSha256">Lower-case hex SHA-256 of the whole artifact.</param>
[MessageUrn("teleguard-backup:snapshot-created")]
public record SnapshotCreated(
    string SnapshotId,
    DateTimeOffset CreatedAt,
    string ArtifactLocation,
    long ArtifactSize,
    string ArtifactSha256,
    int CollectionCount,
    long DocumentCount);

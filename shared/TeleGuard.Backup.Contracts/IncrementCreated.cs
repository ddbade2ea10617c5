using MassTransit;

namespace TeleGuard.Backup.Contracts;

/// <summary>
/// The change recorder closed an increment and stored it in the artifact store (claim check, like <see cref="SnapshotCreated"/>):
/// the change events of the database in the cluster-time range <c>(From, To]</c>. Destinations copy it beside its base snapshot.
/// </summary>
/// <param name="IncrementId"><c>CHAIN-NNNNNN</c>, e.g. <c>20261130T050000Z-000042</c>.</param>
/// <param name="FromSeconds">The range's start, seconds of the cluster time (exclusive).</param>
/// <param name="ToSeconds">The range's end, seconds of the cluster time (inclusive).</param>
[MessageUrn("teleguard-backup:increment-created")]
public record IncrementCreated(
    string IncrementId,
    string Chain,
    int Sequence,
    string BaseSnapshotId,
    DateTimeOffset ClosedAt,
    long FromSeconds,
    long ToSeconds,
    long EventCount,
    string ArtifactLocation,
    long ArtifactSize,
    string ArtifactSha256);

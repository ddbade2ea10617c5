namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>
/// What places an increment in its chain: from a manifest read back, or from a record of it (to choose what to fetch).
/// </summary>
/// <param name="LastEventTime">The cluster time of its last event, when known (null: none, or not recorded).</param>
public sealed record IncrementLink(string IncrementId, string Chain, int Sequence, ClusterTimestamp From, ClusterTimestamp To, string Sha256, string? PreviousSha256,
    ClusterTimestamp? LastEventTime = null)
{
    public static IncrementLink Of(IncrementManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        return new(manifest.IncrementId, manifest.Chain, manifest.Sequence, manifest.From, manifest.To, manifest.Sha256, manifest.PreviousSha256, manifest.LastEventTime);
    }
}

using System.Text.Json.Serialization;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Destinations.Public;

/// <param name="Size">Bytes of the whole encrypted file (all parts).</param>
/// <param name="Sha256">SHA-256 of the whole encrypted file (the parts concatenated in order).</param>
/// <param name="DataTime">When the snapshot's data was read (absent in entries written before it was kept).</param>
public sealed record PublicSnapshot(string Id, long Size, string Sha256, string KeyId, IReadOnlyList<PublicFile> Files, DateTimeOffset? DataTime = null)
{
    [JsonIgnore]
    public DateTimeOffset DataTimeOrIdTime => DataTime ?? (SnapshotIds.TryParse(Id, out var time) ? time : DateTimeOffset.MinValue);
}

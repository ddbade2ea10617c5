using TeleGuard.Backup.Snapshots;

namespace TeleGuard.Backup.Telegram;

/// <summary>
/// The caption of each part: what someone restoring from the channel alone (without <c>backups_meta</c>) needs — the
/// snapshot, the part's place among how many, and the size and SHA-256 the joined parts must have. Cutting any of it
/// would leave a part that cannot be placed or checked, so the caption holds nothing else: every field is bounded (a
/// snapshot id is 16 characters), and the longest caption is far under Telegram's 1,024 characters.
/// </summary>
public static class PartCaption
{
    public static string For(string snapshotId, int index, int count, long archiveSize, string archiveSha256)
    {
        if (!SnapshotIds.IsValid(snapshotId) || index < 1 || index > count || archiveSize < 0 || archiveSha256.Length != 64)
        {
            throw new ArgumentException("A part caption needs a snapshot id, 1 ≤ index ≤ count, the archive size and its SHA-256 in hex.");
        }

        return $"TeleGuard snapshot {snapshotId} · part {index}/{count} · archive {archiveSize} bytes · sha256 {archiveSha256}";
    }
}

using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>
/// The caption of each part: what someone restoring from the channel alone (without <c>backups_meta</c>) needs — the
/// snapshot, the part's place among how many, the size and SHA-256 the joined parts must have and, for an encrypted copy,
/// the id of the key that decrypts it. Cutting any of it would leave a part that cannot be placed, checked or decrypted,
/// so the caption holds nothing else: every field is bounded (a snapshot id is 16 characters, a key id 16 hex digits),
/// and the longest caption is far under Telegram's 1,024 characters.
/// </summary>
public static class PartCaption
{
    /// <param name="keyId">The key id of an encrypted archive; null for an unencrypted one.</param>
    public static string For(string snapshotId, int index, int count, long archiveSize, string archiveSha256, string? keyId = null)
    {
        if (!SnapshotIds.IsValid(snapshotId) || index < 1 || index > count || archiveSize < 0 || archiveSha256.Length != 64 || keyId is { Length: not 16 })
        {
            throw new ArgumentException("A part caption needs a snapshot id, 1 ≤ index ≤ count, the archive size, its SHA-256 in hex and any key id.");
        }

        return Compose($"snapshot {snapshotId}", index, count, archiveSize, archiveSha256, keyId);
    }

    /// <summary>A part of a batch of increments: the first and last increment it holds (in chain order) instead of a snapshot.</summary>
    public static string ForIncrements(string firstIncrementId, string lastIncrementId, int index, int count, long archiveSize, string archiveSha256, string? keyId = null)
    {
        if (!TeleGuard.Backup.Crypto.StreamingEncryption.IsValidSnapshotId(firstIncrementId) || !TeleGuard.Backup.Crypto.StreamingEncryption.IsValidSnapshotId(lastIncrementId) || index < 1 || index > count || archiveSize < 0
            || archiveSha256.Length != 64 || keyId is { Length: not 16 })
        {
            throw new ArgumentException("A part caption needs increment ids, 1 ≤ index ≤ count, the archive size, its SHA-256 in hex and any key id.");
        }

        var what = firstIncrementId == lastIncrementId ? $"increment {firstIncrementId}" : $"increments {firstIncrementId} to {lastIncrementId}";
        return Compose(what, index, count, archiveSize, archiveSha256, keyId);
    }

    private static string Compose(string what, int index, int count, long archiveSize, string archiveSha256, string? keyId)
    {
        var caption = $"TeleGuard {what} · part {index}/{count} · archive {archiveSize} bytes · sha256 {archiveSha256}";
        return keyId is null ? caption : $"{caption} · encrypted with key {keyId}";
    }
}

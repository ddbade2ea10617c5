namespace TeleGuard.Backup.Crypto;

/// <param name="Version">1 (no snapshot id) or 2.</param>
/// <param name="SnapshotId">The snapshot the file belongs to (version 2); null for version 1 files.</param>
public sealed record EncryptedFileHeader(int Version, string KeyId, int ChunkBytes, string? SnapshotId);

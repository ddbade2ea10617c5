namespace TeleGuard.Backup.SnapshotFormat;

/// <param name="Action">What the restore did (or, in a dry run, would do) with the target's collection of this name.</param>
public sealed record CollectionRestoreResult(string Name, long Documents, int Indexes, bool Verified, string Action);

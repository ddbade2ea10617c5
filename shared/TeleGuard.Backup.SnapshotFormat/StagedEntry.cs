namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>A collection staged by a restore: the number of its work collection (<see cref="RestoreWorkCollections.Staged"/>) and its type.</summary>
public sealed record StagedEntry(int Index, string Type);

namespace TeleGuard.Backup.Snapshot.Tests;

/// <summary>
/// A server has one <c>failCommand</c> fail point: test classes that set it must not run at the same time, or one's
/// setting replaces (or its dispose turns off) the other's.
/// </summary>
[CollectionDefinition(nameof(ServerFailPoint))]
public sealed class ServerFailPoint;

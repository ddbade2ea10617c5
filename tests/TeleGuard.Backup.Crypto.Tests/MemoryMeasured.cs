namespace TeleGuard.Backup.Crypto.Tests;

/// <summary>Tests that measure the process's memory run alone: no other test's objects count against their bound.</summary>
[CollectionDefinition(nameof(MemoryMeasured), DisableParallelization = true)]
public sealed class MemoryMeasured;

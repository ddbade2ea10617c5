namespace TeleGuard.Backup.SnapshotFormat;

public sealed record RestoreOptions
{
    /// <summary>Only these collections; null or empty: every collection of the snapshot except <see cref="SnapshotRestorer.LiveMetadataCollection"/>.</summary>
    public IReadOnlyList<string>? Collections { get; init; }

    /// <summary>Replace target collections that already hold documents; without it such a collection stops the restore before anything is written.</summary>
    public bool Drop { get; init; }

    /// <summary>Report what would be written, write nothing.</summary>
    public bool DryRun { get; init; }

    /// <summary>Documents per insert (also bounded by <see cref="InsertCommand.MaxCommandBytes"/>).</summary>
    public int BatchSize { get; init; } = 1000;

    /// <summary>Insert batches of one collection in flight at the same time (a time-series collection always takes one).</summary>
    public int BatchesInFlight { get; init; } = 4;

    /// <summary>Collections written at the same time.</summary>
    public int ParallelCollections { get; init; } = 4;

    /// <summary>Read every written collection back and compare it with the snapshot before swapping it in (benchmarks may skip it).</summary>
    public bool VerifyAfterRestore { get; init; } = true;
}

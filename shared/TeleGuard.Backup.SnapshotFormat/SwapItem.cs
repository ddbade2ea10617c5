using MongoDB.Bson;

namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>One collection of a swap: what the snapshot puts under <paramref name="Name"/> and what was there before.</summary>
/// <param name="Index">Its number in the run (the names of its work collections).</param>
/// <param name="SnapshotType">The snapshot's collection type: collection, view or timeseries; or <see cref="AbsentType"/>:
/// the name does not exist at the time restored to, and the target's collection of that name is removed.</param>
/// <param name="TypeBefore">What the target held under this name when the swap began, or null.</param>
/// <param name="ViewBefore">The <c>create</c> command of the view it replaces, to recreate it on rollback.</param>
public sealed record SwapItem(int Index, string Name, string SnapshotType, string? TypeBefore, BsonDocument? ViewBefore)
{
    public const string AbsentType = "absent";
}

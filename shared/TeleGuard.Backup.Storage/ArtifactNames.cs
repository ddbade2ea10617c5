namespace TeleGuard.Backup.Storage;

public static class ArtifactNames
{
    /// <summary>A name no other save uses: <c>snapshot-ID.ATTEMPT.tar</c>.</summary>
    public static string NewFileName(string snapshotId) => $"snapshot-{snapshotId}.{Guid.NewGuid():N}.tar";

    /// <summary>Whether <paramref name="fileName"/> is an artifact of <paramref name="snapshotId"/> (also the single name of earlier versions).</summary>
    public static bool IsOf(string snapshotId, string fileName) =>
        fileName == $"snapshot-{snapshotId}.tar"
        || (fileName.StartsWith($"snapshot-{snapshotId}.", StringComparison.Ordinal) && fileName.EndsWith(".tar", StringComparison.Ordinal));
}

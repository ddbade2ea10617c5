namespace TeleGuard.Backup.Destinations.Public;

/// <summary>Where the public branch keeps increments: <c>increments/BASE/ID.tgb</c>, one folder per base snapshot.</summary>
public static class PublicIncrements
{
    public const string Folder = "increments";

    public const string Extension = ".tgb";

    public static string PathOf(string baseSnapshotId, string incrementId) => $"{Folder}/{baseSnapshotId}/{incrementId}{Extension}";
}

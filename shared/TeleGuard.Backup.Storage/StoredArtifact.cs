namespace TeleGuard.Backup.Storage;

/// <param name="Location">Where the artifact is: <c>gridfs:DATABASE/BUCKET/FILE-ID</c> or <c>dir:FILE-NAME</c>.</param>
public sealed record StoredArtifact(string Location, long Size, string Sha256);

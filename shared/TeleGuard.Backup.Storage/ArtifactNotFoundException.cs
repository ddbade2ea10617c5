namespace TeleGuard.Backup.Storage;

public sealed class ArtifactNotFoundException(string location, string? why = null)
    : Exception($"Snapshot artifact {location} is not in the artifact store{(why is null ? "" : $" ({why})")}.")
{
    public string Location { get; } = location;
}

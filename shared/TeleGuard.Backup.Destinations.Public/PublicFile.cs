namespace TeleGuard.Backup.Destinations.Public;

public sealed record PublicFile(string File, long Size, string Sha256);

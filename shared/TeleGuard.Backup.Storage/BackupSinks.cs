namespace TeleGuard.Backup.Storage;

/// <summary>
/// The destinations every snapshot is expected in. A snapshot is <c>complete</c> once each has recorded
/// <c>succeeded</c> or <c>skipped</c> (a disabled sink records <c>skipped</c>). A new destination adds its name here.
/// </summary>
public static class BackupSinks
{
    public const string GitHub = "github";
    public const string Public = "public";
    public const string Telegram = "telegram";

    public static readonly IReadOnlyList<string> All = [GitHub, Public, Telegram];
}

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>
/// What the Bot API accepts. The hosted API (api.telegram.org, and any proxy in front of it) takes uploads up to 50 MB
/// and serves downloads (<c>getFile</c>) up to 20 MB; a local Bot API server (<c>telegram-bot-api --local</c>) takes
/// uploads up to 2000 MB and serves any size. Megabytes here are 10^6 bytes, the smaller reading of Telegram's "MB".
/// </summary>
public static class TelegramLimits
{
    public const long HostedDownloadBytes = 20L * 1000 * 1000;

    /// <summary>The largest part (MiB) the hosted API can both take and serve back for a restore (19 MiB is just under 20 MB).</summary>
    public const int HostedMaxPartMegabytes = 19;

    /// <summary>The largest part (MiB) a local server takes (1907 MiB is just under 2000 MB).</summary>
    public const int LocalMaxPartMegabytes = 1907;

    /// <summary><c>deleteMessages</c> takes 1–100 ids.</summary>
    public const int DeleteBatchSize = 100;

    /// <summary>A bot can delete a message only while it is younger than this.</summary>
    public static readonly TimeSpan DeletableFor = TimeSpan.FromHours(48);
}

using MongoDB.Driver;
using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Storage;

/// <summary>Unset, or a MongoDB connection string that names its database.</summary>
public sealed class MongoConnectionStringAttribute : SettingRuleAttribute
{
    /// <summary>The parsed URL, or null when the text is not a connection string.</summary>
    public static MongoUrl? TryParse(string? text)
    {
        try
        {
            return text is null ? null : MongoUrl.Create(text);
        }
        catch (Exception)
        {
            return null;
        }
    }

    protected override string? ProblemWith(string? text) =>
        text is null ? null
        // The driver's message may quote the URI, and with it a password: say only what is wrong.
        : TryParse(text) is not { } url ? "is not a valid MongoDB connection string (mongodb://[user:password@]host[:port]/database)"
        : string.IsNullOrEmpty(url.DatabaseName) ? "must name the database in its path, e.g. mongodb://host:27017/teleguard"
        : null;
}

using MongoDB.Driver;
using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Storage;

/// <summary>
/// Where snapshot artifacts are kept, never in the database being backed up: <c>ARTIFACT_STORE</c> = <c>gridfs</c>
/// (default: GridFS in <c>ARTIFACT_DATABASE</c>, by default <c>&lt;db&gt;_backup</c> on the same server) or
/// <c>directory</c> with <c>ARTIFACT_DIR</c> (a volume every service mounts).
/// </summary>
public sealed class ArtifactStoreOptions : EnvironmentOptions
{
    public const string StoreVariable = "ARTIFACT_STORE";
    public const string DirectoryVariable = "ARTIFACT_DIR";
    public const string DatabaseVariable = "ARTIFACT_DATABASE";
    public const string BucketVariable = "ARTIFACT_GRIDFS_BUCKET";
    public const string DefaultBucket = "teleguard_artifacts";
    public const string DefaultDatabaseSuffix = "_backup";

    public string Kind { get; private set; } = "gridfs";

    /// <summary>The artifact directory: where a directory store writes, and where <c>dir:</c> locations are read.</summary>
    public string? Directory { get; private set; }

    /// <summary>The database GridFS artifacts are written to (on the server of <c>MONGODB_URI</c>).</summary>
    public string Database { get; private set; } = "";

    public string GridFsBucket { get; private set; } = DefaultBucket;

    /// <summary>
    /// The bucket's collections. Earlier versions kept artifacts in the database being backed up: wherever these
    /// collections are found there, they are never exported, so snapshots do not nest.
    /// </summary>
    public IReadOnlySet<string> OwnCollections => new HashSet<string> { $"{GridFsBucket}.files", $"{GridFsBucket}.chunks" };

    protected override void Read(SettingsReader settings)
    {
        Kind = settings.OrDefault(StoreVariable, "gridfs").ToLowerInvariant();
        GridFsBucket = settings.OrDefault(BucketVariable, DefaultBucket);
        Directory = settings.Optional(DirectoryVariable);
        if (Directory is not null && !Path.IsPathFullyQualified(Directory))
        {
            settings.Fail(DirectoryVariable, "must be an absolute path");
        }

        switch (Kind)
        {
            case "gridfs":
                break;
            case "directory":
                if (Directory is null)
                {
                    settings.Fail(DirectoryVariable, "is required when ARTIFACT_STORE is directory");
                }

                break;
            default:
                settings.Fail(StoreVariable, "must be gridfs or directory");
                break;
        }

        // MongoOptions reports a missing or invalid MONGODB_URI; here it only names the database being backed up.
        var backedUp = DatabaseNameOf(settings.Optional(MongoOptions.UriVariable));
        var configured = settings.Optional(DatabaseVariable);
        Database = configured ?? (backedUp is null ? "" : backedUp + DefaultDatabaseSuffix);
        if (configured is not null && configured == backedUp)
        {
            settings.Fail(DatabaseVariable, "must not be the database being backed up (the one in MONGODB_URI): artifacts there would bloat it and its oplog");
        }
        else if (Database.Length > 0 && !IsValidDatabaseName(Database))
        {
            settings.Fail(DatabaseVariable, configured is null
                ? "must be set: the default (the backed-up database's name + _backup) is not a valid MongoDB database name"
                : "is not a valid MongoDB database name (1 to 63 characters, none of / \\ . \" $ * < > : | ?)");
        }
    }

    private static string? DatabaseNameOf(string? uri)
    {
        try
        {
            return uri is null ? null : MongoUrl.Create(uri).DatabaseName;
        }
        catch (Exception)
        {
            return null;
        }
    }

    private static bool IsValidDatabaseName(string name) =>
        name.Length is > 0 and < 64 && name.IndexOfAny(['/', '\\', '.', ' ', '"', '$', '*', '<', '>', ':', '|', '?', '\0']) < 0;
}

using Microsoft.Extensions.Configuration;
using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Storage;

/// <summary>
/// Where snapshot artifacts are kept, never in the database being backed up: <c>ARTIFACT_STORE</c> = <c>gridfs</c>
/// (default: GridFS in <c>ARTIFACT_DATABASE</c>, by default <c>&lt;db&gt;_backup</c> on the same server) or
/// <c>directory</c> with <c>ARTIFACT_DIR</c> (a volume every service mounts).
/// </summary>
public sealed class ArtifactStoreOptions
{
    public const string StoreVariable = "ARTIFACT_STORE";
    public const string DirectoryVariable = "ARTIFACT_DIR";
    public const string DatabaseVariable = "ARTIFACT_DATABASE";
    public const string BucketVariable = "ARTIFACT_GRIDFS_BUCKET";
    public const string DefaultBucket = "teleguard_artifacts";
    public const string DefaultDatabaseSuffix = "_backup";

    [ConfigurationKeyName(StoreVariable)]
    public string? Store { get; set => field = Setting.Clean(value); }

    /// <summary>The artifact directory: where a directory store writes, and where <c>dir:</c> locations are read.</summary>
    [ConfigurationKeyName(DirectoryVariable)]
    [AbsolutePath]
    public string? Directory { get; set => field = Setting.Clean(value); }

    [ConfigurationKeyName(DatabaseVariable)]
    public string? DatabaseSetting { get; set => field = Setting.Clean(value); }

    [ConfigurationKeyName(BucketVariable)]
    public string? Bucket { get; set => field = Setting.Clean(value); }

    /// <summary>Only to name the default database; <see cref="MongoOptions"/> reports a missing or invalid one.</summary>
    [ConfigurationKeyName(MongoOptions.UriVariable)]
    public string? MongoUri { get; set => field = Setting.Clean(value); }

    /// <summary><c>gridfs</c> or <c>directory</c>.</summary>
    public string Kind => (Store ?? "gridfs").ToLowerInvariant();

    /// <summary>The database being backed up (named in <c>MONGODB_URI</c>), or null when there is none.</summary>
    public string? BackedUpDatabase => MongoConnectionStringAttribute.TryParse(MongoUri)?.DatabaseName;

    /// <summary>The database GridFS artifacts are written to (on the server of <c>MONGODB_URI</c>).</summary>
    public string Database => DatabaseSetting ?? (BackedUpDatabase is { } backedUp ? backedUp + DefaultDatabaseSuffix : "");

    public string GridFsBucket => Bucket ?? DefaultBucket;

    /// <summary>
    /// The bucket's collections. Earlier versions kept artifacts in the database being backed up: wherever these
    /// collections are found there, they are never exported, so snapshots do not nest.
    /// </summary>
    public IReadOnlySet<string> OwnCollections => new HashSet<string> { $"{GridFsBucket}.files", $"{GridFsBucket}.chunks" };
}

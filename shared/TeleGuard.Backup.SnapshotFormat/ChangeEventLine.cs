using MongoDB.Bson;

namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>
/// One line of an increment's <c>events.jsonl</c>: the fields of a change event that replay needs, in a fixed order (see
/// docs/increment-format.md). The resume token, wall time and session fields are left out: they are the server's own.
/// </summary>
public static class ChangeEventLine
{
    public const string Insert = "insert";
    public const string Update = "update";
    public const string Replace = "replace";
    public const string Delete = "delete";
    public const string Drop = "drop";
    public const string Rename = "rename";
    public const string DropDatabase = "dropDatabase";
    public const string Create = "create";
    public const string CreateIndexes = "createIndexes";
    public const string DropIndexes = "dropIndexes";
    public const string Modify = "modify";

    /// <summary>The operation types an increment may hold; a stream's <c>invalidate</c> ends a stream and is never recorded.</summary>
    public static readonly IReadOnlySet<string> OperationTypes = new HashSet<string>(StringComparer.Ordinal)
    {
        Insert, Update, Replace, Delete, Drop, Rename, DropDatabase, Create, CreateIndexes, DropIndexes, Modify,
    };

    private static readonly string[] KeptFields =
        ["operationType", "clusterTime", "ns", "documentKey", "fullDocument", "updateDescription", "to", "operationDescription"];

    /// <summary>The recorded form of a change event as the server returned it.</summary>
    public static BsonDocument From(BsonDocument changeEvent)
    {
        var line = new BsonDocument();
        foreach (var field in KeptFields)
        {
            // fullDocument is null on an update without a post-image: absent is what the format says.
            if (changeEvent.TryGetValue(field, out var value) && !value.IsBsonNull)
            {
                line[field] = value;
            }
        }

        return line;
    }

    public static string OperationType(BsonDocument line) => line["operationType"].AsString;

    public static ClusterTimestamp ClusterTime(BsonDocument line) => ToClusterTimestamp(line["clusterTime"].AsBsonTimestamp);

    public static ClusterTimestamp ToClusterTimestamp(BsonTimestamp time) => new((uint)time.Timestamp, (uint)time.Increment);

    public static BsonTimestamp ToBsonTimestamp(ClusterTimestamp time) => new((int)time.T, (int)time.I);
}

using MongoDB.Driver;

namespace TeleGuard.Backup.Storage;

public static class MongoFaults
{
    /// <summary>
    /// MongoDB evaluated the write and rejected it as invalid (a write error such as a failed document validation):
    /// trying it again gives the same answer. Anything else, a state change or an error not known here, may pass later.
    /// </summary>
    public static bool IsRefusal(Exception e) => e is MongoWriteException { WriteError: not null } or InvalidDataException;

    /// <summary>MongoDB could not be reached (no server selected, connection lost, no primary), as opposed to a rejected operation.</summary>
    public static bool IsUnreachable(Exception e) =>
        e is MongoConnectionException or TimeoutException or MongoNotPrimaryException or MongoNodeIsRecoveringException
            or MongoWaitQueueFullException
        || (e.InnerException is { } inner && IsUnreachable(inner));
}

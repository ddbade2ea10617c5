using MongoDB.Bson;
using MongoDB.Driver;

namespace TeleGuard.Backup.TestSupport;

/// <summary>
/// MongoDB's <c>failCommand</c> fail point (test servers; the stand-in serves it too), limited to one client application
/// name so that tests running in parallel against the same server are not hit; turned off when disposed.
/// </summary>
public sealed class FailPoint : IAsyncDisposable
{
    private readonly IMongoDatabase _admin;

    private FailPoint(IMongoDatabase admin) => _admin = admin;

    public static async Task<FailPoint> SetAsync(string uri, string appName, string[] commands, BsonDocument mode, BsonDocument data)
    {
        var admin = new MongoClient(uri).GetDatabase("admin");
        var settings = new BsonDocument { { "failCommands", new BsonArray(commands) }, { "appName", appName } };
        settings.AddRange(data);
        await admin.RunCommandAsync<BsonDocument>(new BsonDocument { { "configureFailPoint", "failCommand" }, { "mode", mode }, { "data", settings } });
        return new FailPoint(admin);
    }

    public async ValueTask DisposeAsync() =>
        await _admin.RunCommandAsync<BsonDocument>(new BsonDocument { { "configureFailPoint", "failCommand" }, { "mode", "off" } });
}

using Microsoft.Extensions.Options;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Cli;

/// <summary>MONGODB_URI's database (backups_meta and the artifact store) as the commands meet it.</summary>
public static class BackupDatabase
{
    /// <summary>
    /// Pings the database, before anything starts, so that a command fails within the server-selection timeout with
    /// one line instead of starting services that would each meet the outage.
    /// </summary>
    public static async Task EnsureReachableAsync(IServiceProvider services)
    {
        try
        {
            await services.GetRequiredService<IMongoDatabase>().RunCommandAsync<BsonDocument>(new BsonDocument("ping", 1));
        }
        catch (Exception e) when (MongoFaults.IsUnreachable(e))
        {
            throw Unreachable(services, e);
        }
    }

    /// <summary>Names MONGODB_URI's servers (host and port only: never the credentials the URI may hold) and why.</summary>
    public static CommandFailedException Unreachable(IServiceProvider services, Exception cause)
    {
        var url = MongoUrl.Create(services.GetRequiredService<IOptions<MongoOptions>>().Value.ConnectionString);
        var servers = string.Join(",", url.Servers.Select(s => $"{s.Host}:{s.Port}"));
        return new CommandFailedException($"MongoDB at {servers} ({MongoOptions.UriVariable}) is unreachable: {ErrorText.OneLine(cause)}", cause);
    }
}

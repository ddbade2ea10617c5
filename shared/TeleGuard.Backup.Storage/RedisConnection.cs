using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace TeleGuard.Backup.Storage;

/// <summary>
/// One shared connection to Redis, opened on first use. Redis is optional for correctness (locks degrade to
/// "proceed", the snapshot id makes duplicates harmless), so callers treat <see cref="RedisUnavailableException"/>
/// as "no lock service" rather than as a failure.
/// </summary>
public sealed partial class RedisConnection(IOptions<RedisOptions> options, ILogger<RedisConnection> logger) : IAsyncDisposable
{
    private readonly SemaphoreSlim _connectGate = new(1, 1);
    private ConnectionMultiplexer? _connection;

    public string KeyPrefix => options.Value.KeyPrefix;

    public string Key(string suffix) => $"{options.Value.KeyPrefix}:{suffix}";

    public async Task<IDatabase> GetDatabaseAsync(CancellationToken cancellationToken)
    {
        var connection = _connection;
        if (connection is null)
        {
            await _connectGate.WaitAsync(cancellationToken);
            try
            {
                connection = _connection ??= await ConnectAsync();
            }
            finally
            {
                _connectGate.Release();
            }
        }

        if (!connection.IsConnected)
        {
            throw new RedisUnavailableException("Redis is not connected.");
        }

        return connection.GetDatabase(options.Value.Database);
    }

    private async Task<ConnectionMultiplexer> ConnectAsync()
    {
        var settings = options.Value;
        var configuration = new ConfigurationOptions
        {
            EndPoints = { { settings.Host, settings.Port } },
            User = settings.User,
            Password = settings.Password,
            Ssl = settings.UseTls,
            AbortOnConnectFail = false,
            ConnectTimeout = 3000,
            SyncTimeout = 3000,
            AsyncTimeout = 3000,
            ClientName = "teleguard-backup",
        };
        try
        {
            var connection = await ConnectionMultiplexer.ConnectAsync(configuration);
            // Without AbortOnConnectFail the first handshake may still be under way: give it the connect timeout.
            for (var waited = 0; !connection.IsConnected && waited < configuration.ConnectTimeout; waited += 50)
            {
                await Task.Delay(50);
            }

            return connection;
        }
        catch (RedisConnectionException)
        {
            LogUnreachable(logger, settings.Host, settings.Port);
            throw new RedisUnavailableException("Redis is not reachable.");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }

        _connectGate.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis at {Host}:{Port} is not reachable")]
    private static partial void LogUnreachable(ILogger logger, string host, int port);
}

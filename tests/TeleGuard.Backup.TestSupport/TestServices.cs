using System.Net.Http.Headers;
using System.Text;
using MongoDB.Driver;
using Testcontainers.MongoDb;
using Testcontainers.RabbitMq;
using Testcontainers.Redis;
using Xunit;

namespace TeleGuard.Backup.TestSupport;

/// <summary>
/// The servers integration tests talk to: from the variables of services.env (CI and the team's machines); else from
/// Testcontainers where a Docker engine exists; else the test is skipped, saying why, unless
/// <c>TELEGUARD_TEST_SERVICES=required</c>, where a missing server fails it.
/// </summary>
public static class TestServices
{
    private static readonly Lazy<Task<string>> MongoContainer = new(() => StartMongoAsync(replicaSet: false));
    private static readonly Lazy<Task<string>> MongoReplicaSetContainer = new(() => StartMongoAsync(replicaSet: true));
    private static readonly Lazy<Task<string>> RedisContainer = new(StartRedisAsync);
    private static readonly Lazy<Task<(string Amqp, string Management)>> RabbitContainer = new(StartRabbitAsync);

    public static bool Required => Environment.GetEnvironmentVariable("TELEGUARD_TEST_SERVICES") == "required";

    /// <summary>A standalone MongoDB (or the stand-in) with a fresh database name in the path.</summary>
    public static async Task<string> MongoUriAsync(string? database = null) =>
        WithDatabase(await ResolveAsync("MONGODB_URI", () => MongoContainer.Value), database ?? UniqueName("db"));

    /// <summary>A (single-node) replica set with a fresh database name in the path.</summary>
    public static async Task<string> MongoReplicaSetUriAsync(string? database = null) =>
        WithDatabase(await ResolveAsync("MONGODB_RS_URI", () => MongoReplicaSetContainer.Value), database ?? UniqueName("db"));

    public static Task<string> RedisUrlAsync() => ResolveAsync("REDIS_URL", () => RedisContainer.Value);

    /// <summary>A fresh RabbitMQ virtual host, deleted on dispose, so parallel tests never see each other's messages.</summary>
    public static async Task<RabbitMqVirtualHost> RabbitMqVirtualHostAsync()
    {
        string amqp, management;
        var fromEnvironment = Environment.GetEnvironmentVariable("RABBITMQ_URI");
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            amqp = fromEnvironment;
            management = Environment.GetEnvironmentVariable("RABBITMQ_MANAGEMENT_URI") ?? "http://127.0.0.1:15672/";
        }
        else
        {
            (amqp, management) = await ResolveAsync("RABBITMQ_URI", () => RabbitContainer.Value);
        }

        return await RabbitMqVirtualHost.CreateAsync(new Uri(amqp), new Uri(management), UniqueName("vh"));
    }

    /// <summary>Prefix of the skip reason of tests that need a real MongoDB (CI accepts only these skips).</summary>
    public const string RealMongoDbOnly = "Real MongoDB only:";

    /// <summary>Skips the test, saying why, when MONGODB_URI is the wire-protocol stand-in (MONGODB_IS_STANDIN=true).</summary>
    public static void SkipOnMongoStandIn(string why)
    {
        if (Environment.GetEnvironmentVariable("MONGODB_IS_STANDIN") == "true")
        {
            Assert.Skip($"{RealMongoDbOnly} {why} (MONGODB_URI is the stand-in; point it at a real server to run this test).");
        }
    }

    public static string UniqueName(string prefix) => $"{prefix}_{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    public static string WithDatabase(string uri, string database) =>
        new MongoUrlBuilder(uri) { DatabaseName = database }.ToString();

    private static async Task<T> ResolveAsync<T>(string variable, Func<Task<T>> container)
    {
        var value = Environment.GetEnvironmentVariable(variable);
        if (!string.IsNullOrWhiteSpace(value) && value is T text)
        {
            return text;
        }

        if (Required)
        {
            throw new InvalidOperationException(
                $"{variable} is not set and TELEGUARD_TEST_SERVICES=required: start the servers with `bash ../shared/ci/services.sh start` and source services.env.");
        }

        try
        {
            return await container();
        }
        catch (Exception e)
        {
            Assert.Skip($"{variable} is not set and no Docker engine could start a container ({e.GetType().Name}); integration test skipped.");
            throw; // unreachable: Assert.Skip throws
        }
    }

    private static async Task<string> StartMongoAsync(bool replicaSet)
    {
        var builder = new MongoDbBuilder("mongo:7").WithUsername("").WithPassword("");
        if (replicaSet)
        {
            builder = builder.WithReplicaSet("rs0");
        }

        var container = builder.Build();
        await container.StartAsync();
        return container.GetConnectionString();
    }

    private static async Task<string> StartRedisAsync()
    {
        var container = new RedisBuilder("redis:7").Build();
        await container.StartAsync();
        return $"redis://{container.Hostname}:{container.GetMappedPublicPort(6379)}";
    }

    private static async Task<(string, string)> StartRabbitAsync()
    {
        var container = new RabbitMqBuilder("rabbitmq:3-management").WithUsername("guest").WithPassword("guest").WithPortBinding(15672, true).Build();
        await container.StartAsync();
        return ($"amqp://guest:guest@{container.Hostname}:{container.GetMappedPublicPort(5672)}/",
            $"http://{container.Hostname}:{container.GetMappedPublicPort(15672)}/");
    }
}

/// <summary>A RabbitMQ virtual host made for one test through the management API.</summary>
public sealed class RabbitMqVirtualHost : IAsyncDisposable
{
    private readonly HttpClient _management;
    private readonly string _name;
    private readonly List<string> _users = [];

    private RabbitMqVirtualHost(HttpClient management, string name, string amqpUri)
    {
        _management = management;
        _name = name;
        AmqpUri = amqpUri;
    }

    /// <summary><c>amqp://user:pass@host:port/VHOST</c>.</summary>
    public string AmqpUri { get; }

    public string Name => _name;

    public static async Task<RabbitMqVirtualHost> CreateAsync(Uri amqp, Uri management, string name)
    {
        var userInfo = amqp.UserInfo.Length > 0 ? Uri.UnescapeDataString(amqp.UserInfo) : "guest:guest";
        var user = userInfo.Split(':')[0];
        var client = new HttpClient { BaseAddress = management, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(userInfo)));
        (await client.PutAsync($"api/vhosts/{name}", new StringContent("{}", Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();
        (await client.PutAsync($"api/permissions/{name}/{Uri.EscapeDataString(user)}",
            new StringContent("""{"configure":".*","write":".*","read":".*"}""", Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();
        var uri = new UriBuilder(amqp) { Path = "/" + name }.Uri.ToString();
        return new RabbitMqVirtualHost(client, name, uri);
    }

    /// <summary>
    /// Messages in a queue of this vhost as the management API last sampled them; null while it has no figure (the
    /// queue does not exist yet, or its statistics were not collected yet), never a 0 it did not measure. The figure
    /// lags by up to the statistics interval (5 s by default): use it to wait for messages to arrive, not for a queue
    /// to drain.
    /// </summary>
    public async Task<int?> CountMessagesAsync(string queue)
    {
        var response = await _management.GetAsync($"api/queues/{_name}/{queue}");
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        using var json = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.TryGetProperty("messages", out var messages) && messages.ValueKind == System.Text.Json.JsonValueKind.Number
            ? messages.GetInt32()
            : null;
    }

    /// <summary>
    /// A queue's messages (ready and unacknowledged) and the deliveries acknowledged so far, as the management API last
    /// sampled them (lagging by up to 5 s); null while it has no figures yet. An acknowledgement counted is positive
    /// evidence that a delivery ended, which a 0 alone is not (it may predate the message).
    /// </summary>
    public async Task<(int Messages, int Unacknowledged, long Acknowledged)?> QueueStateAsync(string queue)
    {
        var response = await _management.GetAsync($"api/queues/{_name}/{queue}");
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        using var json = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = json.RootElement;
        if (!root.TryGetProperty("messages", out var messages) || messages.ValueKind != System.Text.Json.JsonValueKind.Number
            || !root.TryGetProperty("messages_unacknowledged", out var unacknowledged) || unacknowledged.ValueKind != System.Text.Json.JsonValueKind.Number)
        {
            return null;
        }

        var acknowledged = root.TryGetProperty("message_stats", out var stats) && stats.TryGetProperty("ack", out var ack) ? ack.GetInt64() : 0;
        return (messages.GetInt32(), unacknowledged.GetInt32(), acknowledged);
    }

    /// <summary>
    /// The messages waiting in a queue of this vhost as the management API shows them (payloads and every property and
    /// header, e.g. MassTransit's fault headers), left in the queue; empty when the queue does not exist.
    /// </summary>
    public async Task<string> PeekMessagesAsync(string queue, int count = 100)
    {
        var body = System.Text.Json.JsonSerializer.Serialize(new { count, ackmode = "ack_requeue_true", encoding = "auto", truncate = 50_000_000 });
        var response = await _management.PostAsync($"api/queues/{_name}/{queue}/get", new StringContent(body, Encoding.UTF8, "application/json"));
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return "";
        }

        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>The names of this vhost's queues.</summary>
    public async Task<IReadOnlyList<string>> QueueNamesAsync()
    {
        using var json = System.Text.Json.JsonDocument.Parse(await _management.GetStringAsync($"api/queues/{_name}"));
        return json.RootElement.EnumerateArray().Select(q => q.GetProperty("name").GetString()!).ToList();
    }

    /// <summary>A user of this vhost only, with the given password; deleted with the vhost.</summary>
    public async Task CreateUserAsync(string user, string password)
    {
        var body = System.Text.Json.JsonSerializer.Serialize(new { password, tags = "" });
        (await _management.PutAsync($"api/users/{Uri.EscapeDataString(user)}", new StringContent(body, Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();
        (await _management.PutAsync($"api/permissions/{_name}/{Uri.EscapeDataString(user)}",
            new StringContent("""{"configure":".*","write":".*","read":".*"}""", Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();
        _users.Add(user);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var user in _users)
        {
            try
            {
                await _management.DeleteAsync($"api/users/{Uri.EscapeDataString(user)}");
            }
            catch (HttpRequestException)
            {
            }
        }

        try
        {
            await _management.DeleteAsync($"api/vhosts/{_name}");
        }
        catch (HttpRequestException)
        {
        }

        _management.Dispose();
    }
}

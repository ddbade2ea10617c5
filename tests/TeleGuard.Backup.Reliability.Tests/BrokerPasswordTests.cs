using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Reliability.Tests;

/// <summary>
/// A RabbitMQ password with characters a URI reserves works, given apart (RABBITMQ_PASSWORD, as docker compose passes
/// it) or percent-encoded in RABBITMQ_URI; a wrong one fails with one line that does not echo it.
/// </summary>
public sealed class BrokerPasswordTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);
    private readonly TemporaryDirectory _work = new();

    public void Dispose() => _work.Dispose();

    [Fact]
    public async Task A_password_with_at_and_slash_connects_given_apart_or_percent_encoded()
    {
        await using var vhost = await TestServices.RabbitMqVirtualHostAsync();
        var user = TestServices.UniqueName("pw");
        const string password = "p@ss/w0rd:#?%";
        await vhost.CreateUserAsync(user, password);
        var broker = new Uri(vhost.AmqpUri);
        var withoutCredentials = new UriBuilder(broker) { UserName = user, Password = "" }.Uri.ToString();
        var percentEncoded = $"amqp://{Uri.EscapeDataString(user)}:{Uri.EscapeDataString(password)}@{broker.Host}:{broker.Port}{broker.AbsolutePath}";

        foreach (var (uri, apart) in new[] { (withoutCredentials, password), (percentEncoded, (string?)null) })
        {
            var snapshot = await CliProcess.RunAsync(Environment(uri, apart), Timeout, "snapshot");
            Assert.True(snapshot.ExitCode == 0, snapshot.Output);
            Assert.Contains("Requested snapshot", snapshot.Output); // published: the broker took the credentials
        }

        var wrong = await CliProcess.RunAsync(Environment(withoutCredentials, "p@ss/wrong"), Timeout, "snapshot");
        Assert.Equal(1, wrong.ExitCode);
        var line = Assert.Single(wrong.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("teleguard-backup snapshot: RabbitMQ refused the login", line);
        Assert.DoesNotContain("p@ss/wrong", wrong.Output);
    }

    private Dictionary<string, string?> Environment(string rabbitUri, string? password) => new()
    {
        ["MONGODB_URI"] = TestServices.MongoUriAsync().GetAwaiter().GetResult(),
        ["REDIS_URL"] = TestServices.RedisUrlAsync().GetAwaiter().GetResult(),
        ["REDIS_KEY_PREFIX"] = TestServices.UniqueName("test"),
        ["SNAPSHOT_DIR"] = _work.Path,
        ["RABBITMQ_URI"] = rabbitUri,
        ["RABBITMQ_PASSWORD"] = password,
    };
}

using System.Text;
using MongoDB.Bson;
using MongoDB.Driver;
using StackExchange.Redis;
using TeleGuard.Backup.Crypto;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Reliability.Tests;

/// <summary>
/// The whole pipeline at Trace level with canary secrets, through success and failure: not one occurrence of any secret
/// (nor of the git Basic-auth header made from it) in any output, any file under SNAPSHOT_DIR (every clone's
/// .git/config included), any object of the server's repository (every commit, tree and blob, decompressed),
/// backups_meta, or any Redis key or value.
/// </summary>
public sealed class SecretCanaryTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task No_token_or_key_appears_anywhere_after_successful_and_failing_snapshots_at_trace_level()
    {
        await using var pipeline = await Pipeline.CreateAsync(rabbitMq: true);
        var previousKey = Convert.ToBase64String(EncryptionKeyRing.GenerateKey());
        pipeline.Settings["ENCRYPTION_PREVIOUS_KEYS"] = previousKey;
        var telegramKey = Convert.ToBase64String(EncryptionKeyRing.GenerateKey());
        pipeline.Settings["TELEGRAM_ENCRYPTION_KEY"] = telegramKey;
        pipeline.Settings["LOG_LEVEL"] = "Trace";
        pipeline.Settings["RETRY_LIMIT"] = "1";
        const string wrongGitToken = "ghs_CanaryWrongToken0123456789abcdefABCDEF";
        const string wrongTelegramToken = "123456789:CanaryWrongTelegramTokenAAAAAAAAAAAAAA";
        var secrets = new List<string>
        {
            pipeline.Settings["GITHUB_TOKEN"]!, pipeline.Settings["TELEGRAM_BOT_TOKEN"]!, pipeline.Settings["ENCRYPTION_KEY"]!, previousKey, telegramKey,
            wrongGitToken, wrongTelegramToken,
        };
        foreach (var token in new[] { pipeline.Settings["TELEGRAM_BOT_TOKEN"]!, wrongTelegramToken })
        {
            secrets.Add(token[(token.IndexOf(':') + 1)..]); // the token's secret half alone (the bot id before it is public)
        }

        foreach (var secret in secrets.ToList())
        {
            secrets.Add(Uri.EscapeDataString(secret)); // as it would appear in a URL or a form
            secrets.Add(System.Net.WebUtility.UrlEncode(secret));
        }

        foreach (var key in new[] { pipeline.Settings["ENCRYPTION_KEY"]!, previousKey, telegramKey })
        {
            secrets.Add(Convert.ToHexStringLower(Convert.FromBase64String(key)));
            secrets.Add(Convert.ToHexString(Convert.FromBase64String(key)));
        }

        foreach (var token in new[] { pipeline.Settings["GITHUB_TOKEN"]!, wrongGitToken })
        {
            secrets.Add(Convert.ToBase64String(Encoding.UTF8.GetBytes($"{pipeline.Git.User}:{token}"))); // the Basic auth header
        }

        // Success: the services as processes, a snapshot to every destination, status and a restore drill.
        await pipeline.StartServiceAsync("TeleGuard.Backup.Snapshot");
        var sinks = new List<CliProcess>();
        foreach (var service in new[] { "TeleGuard.Backup.GitHub", "TeleGuard.Backup.Public", "TeleGuard.Backup.Telegram" })
        {
            sinks.Add(await pipeline.StartServiceAsync(service));
        }

        var good = await pipeline.RequestSnapshotAsync();
        Assert.Equal("complete", (await pipeline.FinishedAsync(good, Timeout)).Status);
        Assert.Equal(0, (await pipeline.RunCliAsync(Timeout, "status")).ExitCode);
        Assert.Equal(0, (await pipeline.RunCliAsync(Timeout, "verify", "--from", "telegram", "--snapshot", good)).ExitCode);

        // Failure: the sinks restarted with wrong tokens; the snapshot fails in git and Telegram and says why.
        pipeline.Settings["GITHUB_TOKEN"] = wrongGitToken;
        pipeline.Settings["TELEGRAM_BOT_TOKEN"] = wrongTelegramToken;
        foreach (var sink in sinks)
        {
            sink.Kill();
        }

        foreach (var service in new[] { "TeleGuard.Backup.GitHub", "TeleGuard.Backup.Public", "TeleGuard.Backup.Telegram" })
        {
            await pipeline.StartServiceAsync(service);
        }

        await Task.Delay(TimeSpan.FromSeconds(1.1));
        var bad = await pipeline.RequestSnapshotAsync();
        var failed = await pipeline.FinishedAsync(bad, Timeout);
        Assert.Equal("failed", failed.Status);
        Assert.Equal(1, (await pipeline.RunCliAsync(Timeout, "verify", "--from", "telegram", "--snapshot", good)).ExitCode);
        Assert.Equal(1, (await pipeline.RunCliAsync(Timeout, "restore", "--from", "github", "--snapshot", good, "--to-uri", await TestServices.MongoUriAsync())).ExitCode);

        // The haystack.
        var places = new Dictionary<string, string>
        {
            ["process output"] = pipeline.ProcessOutput,
            ["backups_meta"] = string.Join('\n', (await pipeline.Database.GetCollection<BsonDocument>("backups_meta").Find(FilterDefinition<BsonDocument>.Empty).ToListAsync())
                .Select(d => d.ToJson())),
            ["server repository objects"] = AllObjects(pipeline.RepositoryPath),
            ["redis"] = await RedisDumpAsync(pipeline.Settings["REDIS_URL"]!, pipeline.Settings["REDIS_KEY_PREFIX"]!),
        };
        // Every message kept in a queue, _error queues first: payloads and MassTransit's fault headers (message, stack trace).
        var queues = await pipeline.Broker!.QueueNamesAsync();
        Assert.Contains("teleguard-github_error", queues); // the failures above were kept there
        foreach (var queue in queues)
        {
            places[$"queue {queue}"] = await pipeline.Broker.PeekMessagesAsync(queue);
        }

        Assert.Contains("MT-Fault-Message", places["queue teleguard-github_error"]); // the headers were searched too
        foreach (var file in Directory.EnumerateFiles(pipeline.Work.Path, "*", SearchOption.AllDirectories))
        {
            places[file] = Encoding.Latin1.GetString(await File.ReadAllBytesAsync(file));
        }

        foreach (var clone in Directory.EnumerateFiles(pipeline.Work.Path, "config", SearchOption.AllDirectories).Select(Path.GetDirectoryName))
        {
            places[$"objects of {clone}"] = AllObjects(clone!);
        }

        Assert.True(places.Keys.Count(k => k.StartsWith("objects of ", StringComparison.Ordinal)) >= 2,
            "both sinks' clones (private and public branch) were searched: " + string.Join(", ", places.Keys.Where(k => k.StartsWith("objects of ", StringComparison.Ordinal))));
        Assert.Contains("401", places["process output"]); // the failure path ran and was reported
        Assert.Contains(good, places["server repository objects"]);
        output.WriteLine($"Searched {places.Count} places, {places.Values.Sum(v => (long)v.Length):N0} characters, for {secrets.Count} secret forms.");
        var found = (from place in places from secret in secrets where place.Value.Contains(secret, StringComparison.Ordinal) select place.Key).ToList();
        Assert.True(found.Count == 0, $"A secret appears in: {string.Join(", ", found)}");
    }

    // Every object of a repository, decompressed (commits, trees, blobs), as git itself reads them.
    private static string AllObjects(string repository) => GitServer.Run(repository, "cat-file", "--batch-all-objects", "--batch");

    private static async Task<string> RedisDumpAsync(string url, string prefix)
    {
        var uri = new Uri(url);
        await using var redis = await ConnectionMultiplexer.ConnectAsync($"{uri.Host}:{uri.Port}");
        var server = redis.GetServers().First();
        var database = redis.GetDatabase();
        var dump = new StringBuilder();
        await foreach (var key in server.KeysAsync(pattern: prefix + "*"))
        {
            dump.AppendLine(key.ToString());
            var type = await database.KeyTypeAsync(key);
            var values = type switch
            {
                RedisType.String => [(await database.StringGetAsync(key)).ToString()],
                RedisType.List => (await database.ListRangeAsync(key)).Select(v => v.ToString()),
                RedisType.Hash => (await database.HashGetAllAsync(key)).Select(e => $"{e.Name}={e.Value}"),
                RedisType.Set => (await database.SetMembersAsync(key)).Select(v => v.ToString()),
                _ => [type.ToString()],
            };
            foreach (var value in values)
            {
                dump.AppendLine(value);
            }
        }

        return dump.ToString();
    }
}

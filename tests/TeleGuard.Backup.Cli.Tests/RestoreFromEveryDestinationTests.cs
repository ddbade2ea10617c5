using System.Text.RegularExpressions;
using MongoDB.Driver;
using TeleGuard.Backup.Crypto;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Cli.Tests;

/// <summary>
/// One snapshot sent to every destination (git smart-HTTP server, public branch, fake Bot API), then restored with
/// the real program from each of them and from the store into empty databases, each compared with the source by the
/// driver.
/// </summary>
public sealed partial class RestoreFromEveryDestinationTests : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);
    private readonly TemporaryDirectory _work = new();
    private FakeTelegramBotApi? _telegram;

    [GeneratedRegex(@"Requested snapshot (\d{8}T\d{6}Z)")]
    private static partial Regex SnapshotIdPattern();

    [Fact]
    public async Task Github_public_telegram_and_store_each_restore_a_database_equal_to_the_source_and_a_corrupted_part_is_refused()
    {
        var (uri, source) = await RestoreSourceData.CreateAsync();
        var git = GitServer.FromEnvironment();
        var (repository, _) = git.CreateRepository();
        _telegram = await FakeTelegramBotApi.StartAsync(TimeProvider.System);
        var environment = new Dictionary<string, string?>
        {
            ["MONGODB_URI"] = uri,
            ["REDIS_URL"] = await TestServices.RedisUrlAsync(),
            ["REDIS_KEY_PREFIX"] = TestServices.UniqueName("test"),
            ["SNAPSHOT_DIR"] = _work.Path,
            ["LOG_FORMAT"] = "text",
            ["GITHUB_REPO"] = repository.ToString(),
            ["GITHUB_PUBLIC_REPO"] = repository.ToString(), // the encrypted branch beside the plain one, set explicitly
            ["GITHUB_TOKEN"] = git.Token,
            ["ENCRYPTION_KEY"] = Convert.ToBase64String(EncryptionKeyRing.GenerateKey()),
            ["TELEGRAM_BOT_TOKEN"] = _telegram.Token,
            ["TELEGRAM_CHANNEL_ID"] = FakeTelegramBotApi.ChatId.ToString(),
            ["TELEGRAM_API_BASE_URL"] = _telegram.BaseUrl,
        };

        var backup = await CliProcess.RunAsync(environment, Timeout, "snapshot");
        Assert.True(backup.ExitCode == 0, backup.Output);
        Assert.Contains(": complete", backup.Output);
        var id = SnapshotIdPattern().Match(backup.Output).Groups[1].Value;

        // status says where each copy is in words, never as raw BSON.
        var status = await CliProcess.RunAsync(environment, Timeout, "status");
        Assert.True(status.ExitCode == 0, status.Output);
        Assert.Matches($@"github: succeeded at \S+: commit [0-9a-f]{{12}} on branch backups of {Regex.Escape(repository.ToString())}", status.StandardOutput);
        Assert.Matches($@"public: succeeded at \S+: commit [0-9a-f]{{12}} on branch public-snapshots of \S+; file snapshots/{id}\.tgb; \d+ bytes; encrypted with key [0-9a-f]+", status.StandardOutput);
        Assert.Matches($@"telegram: succeeded at \S+: 1 of 1 parts as messages \d+ in chat {FakeTelegramBotApi.ChatId}", status.StandardOutput);
        Assert.DoesNotContain("{", status.StandardOutput);
        Assert.DoesNotContain("_csharpnull", status.StandardOutput);

        foreach (var from in new[] { "github", "public", "telegram", "store" })
        {
            var verified = await CliProcess.RunAsync(environment, Timeout, "verify", "--from", from, "--snapshot", id);
            Assert.True(verified.ExitCode == 0, $"verify --from {from}:\n{verified.Output}");
            Assert.Contains("every document decodes to the exported BSON", verified.Output);
            var targetUri = await TestServices.MongoUriAsync();
            var restore = await CliProcess.RunAsync(environment, Timeout, "restore", "--from", from, "--snapshot", id, "--to-uri", targetUri,
                "--collections", string.Join(',', RestoreSourceData.Collections));
            Assert.True(restore.ExitCode == 0, $"--from {from}:\n{restore.Output}");
            await RestoreSourceData.AssertSameAsync(source, new MongoClient(targetUri).GetDatabase(MongoUrl.Create(targetUri).DatabaseName));
        }

        // The restore drill verifies the latest snapshot in every destination and records it.
        var drill = await CliProcess.RunAsync(environment, Timeout, "drill");
        Assert.True(drill.ExitCode == 0, drill.Output);
        var meta = source.GetCollection<MongoDB.Bson.BsonDocument>("backups_meta");
        var drills = (await meta.Find(new MongoDB.Bson.BsonDocument("_id", id)).SingleAsync())["drills"].AsBsonDocument;
        Assert.Equal(["github", "public", "store", "telegram"], drills.Names.Order());
        Assert.All(drills.Values, d => Assert.True(d["ok"].AsBoolean));

        // A corrupted Telegram part: verify and restore fail before writing, naming the snapshot and the part.
        var message = _telegram.Messages.First();
        var bytes = await File.ReadAllBytesAsync(message.Path);
        bytes[bytes.Length / 2] ^= 0x01;
        await File.WriteAllBytesAsync(message.Path, bytes);
        var verify = await CliProcess.RunAsync(environment, Timeout, "verify", "--from", "telegram", "--snapshot", id);
        Assert.Equal(1, verify.ExitCode);
        Assert.Contains($"Snapshot {id}: Telegram part 1", verify.Output);
        var emptyUri = await TestServices.MongoUriAsync();
        var refused = await CliProcess.RunAsync(environment, Timeout, "restore", "--from", "telegram", "--snapshot", id, "--to-uri", emptyUri);
        Assert.Equal(1, refused.ExitCode);
        Assert.Empty(await (await new MongoClient(emptyUri).GetDatabase(MongoUrl.Create(emptyUri).DatabaseName).ListCollectionNamesAsync()).ToListAsync());
        // A tampered commit on the private branch and a tampered file on the public branch are refused the same way.
        TamperWithBranch(git, repository, "backups", $"snapshot/collections/users/part-0001.jsonl", id);
        var github = await CliProcess.RunAsync(environment, Timeout, "verify", "--from", "github", "--snapshot", id);
        Assert.Equal(1, github.ExitCode);
        Assert.Contains($"Snapshot {id}", github.Output);
        Assert.Contains("collections/users/part-0001.jsonl", github.Output);
        TamperWithBranch(git, repository, "public-snapshots", $"snapshots/{id}.tgb", id);
        var publicCopy = await CliProcess.RunAsync(environment, Timeout, "restore", "--from", "public", "--snapshot", id, "--to-uri", emptyUri);
        Assert.Equal(1, publicCopy.ExitCode);
        Assert.Contains($"Snapshot {id}: snapshots/{id}.tgb does not match", publicCopy.Output);
        Assert.Empty(await (await new MongoClient(emptyUri).GetDatabase(MongoUrl.Create(emptyUri).DatabaseName).ListCollectionNamesAsync()).ToListAsync());

        var failedDrill = await CliProcess.RunAsync(environment, Timeout, "drill");
        Assert.Equal(1, failedDrill.ExitCode);
        Assert.Contains("telegram: FAILED", failedDrill.Output);
        var telegramDrill = (await meta.Find(new MongoDB.Bson.BsonDocument("_id", id)).SingleAsync())["drills"]["telegram"];
        Assert.False(telegramDrill["ok"].AsBoolean);
        Assert.DoesNotContain(_telegram.Token, verify.Output + refused.Output + backup.Output + failedDrill.Output);
    }

    // Pushes, with the git CLI, a commit that flips one byte of a file and claims the same snapshot id.
    private void TamperWithBranch(GitServer git, Uri repository, string branch, string file, string snapshotId)
    {
        var clone = Path.Combine(_work.Path, $"tamper-{Guid.NewGuid():N}");
        var authenticated = new UriBuilder(repository) { UserName = git.User, Password = git.Token }.Uri.ToString();
        GitServer.Run(null, "clone", "--quiet", "--branch", branch, authenticated, clone);
        var path = Path.Combine(clone, file);
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x01;
        File.WriteAllBytes(path, bytes);
        GitServer.Run(clone, "-c", "user.name=mallory", "-c", "user.email=m@example.org", "commit", "--quiet", "-am", $"tampered\n\nSnapshot-Id: {snapshotId}");
        GitServer.Run(clone, "push", "--quiet", "origin", branch);
    }

    public async ValueTask DisposeAsync()
    {
        if (_telegram is not null)
        {
            await _telegram.DisposeAsync();
        }

        _work.Dispose();
    }
}

using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Cli.Tests;

/// <summary>Start-up refusal, as an operator meets it: exit code and message of the real program.</summary>
public sealed class ConfigurationTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("run")]
    [InlineData("snapshot")]
    [InlineData("status")]
    public async Task Missing_mongodb_uri_stops_every_command_naming_the_variable(string command)
    {
        var (exitCode, output) = await CliProcess.RunAsync(new Dictionary<string, string?>(), Timeout, command);
        Assert.Equal(2, exitCode);
        Assert.Contains("MONGODB_URI is required", output);
        Assert.DoesNotContain("   at ", output); // an operator message, not a stack trace
    }

    [Fact]
    public async Task Malformed_values_are_named_and_never_echoed()
    {
        var (exitCode, output, _, errors) = await CliProcess.RunAsync(new Dictionary<string, string?>
        {
            ["MONGODB_URI"] = "mongodb://admin:CanaryMongoSecret@db.example:27017",
            ["RABBITMQ_URI"] = "http://guest:CanaryRabbitSecret@broker",
            ["REDIS_URL"] = "CanaryRedisSecret",
            ["BACKUP_SCHEDULE"] = "every hour",
            ["RETENTION_HOURS"] = "-3",
            ["SNAPSHOT_PART_SIZE_MB"] = "0",
            ["GITHUB_TOKEN"] = "ghs_CanaryGitHubToken",
            ["GITHUB_BACKUP_BRANCH"] = "backups", // without GITHUB_REPO: the sink refuses to start
            ["ENCRYPTION_KEY"] = "Q2FuYXJ5S2V5MzFCeXRlc0xvbmdYWFhYWFhYWFhYWA==", // 31 bytes
        }, Timeout, "run");

        Assert.Equal(2, exitCode);
        // Every variable on one line (what precedes it on stderr is the host's start-up log).
        var error = Assert.Single(errors.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("teleguard-backup", StringComparison.Ordinal));
        foreach (var variable in new[] { "MONGODB_URI", "RABBITMQ_URI", "REDIS_URL", "BACKUP_SCHEDULE", "RETENTION_HOURS", "SNAPSHOT_PART_SIZE_MB", "GITHUB_REPO is required", "GITHUB_PUBLIC_REPO is required", "ENCRYPTION_KEY must be base64 of exactly 32 bytes" })
        {
            Assert.Contains(variable, error);
        }

        Assert.DoesNotContain("Canary", output);
        Assert.DoesNotContain("Q2FuYXJ5", output);
        Assert.DoesNotContain("every hour", output);
    }
}

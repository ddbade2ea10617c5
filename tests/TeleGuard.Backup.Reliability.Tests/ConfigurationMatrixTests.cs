using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Reliability.Tests;

/// <summary>
/// Every variable, missing or empty where required and malformed everywhere, against the real program: exit 2, a line
/// naming the variable, and the value never echoed. Each case changes one variable of an otherwise valid
/// configuration (nothing is contacted: the check runs before anything starts).
/// </summary>
public sealed class ConfigurationMatrixTests
{
    private static readonly Dictionary<string, string?> Valid = new()
    {
        ["MONGODB_URI"] = "mongodb://127.0.0.1:1/app",
        ["REDIS_URL"] = "redis://127.0.0.1:1",
        ["RABBITMQ_URI"] = "amqp://guest:guest@127.0.0.1:1/",
        ["GITHUB_REPO"] = "https://github.example/acme/backups.git",
        ["GITHUB_TOKEN"] = "ghs_ValidLookingToken0123456789",
        ["ENCRYPTION_KEY"] = Convert.ToBase64String(new byte[32]),
        ["GITHUB_PUBLIC_REPO"] = "https://github.example/acme/public.git",
        ["TELEGRAM_BOT_TOKEN"] = "123456:AAValidLookingTelegramToken_0123",
        ["TELEGRAM_CHANNEL_ID"] = "-1001234567890",
        ["TELEGRAM_ENCRYPTION_KEY"] = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray()),
        ["SNAPSHOT_DIR"] = "/tmp/teleguard-config-matrix",
    };

    public static TheoryData<string, string?> Cases => new()
    {
        { "MONGODB_URI", null },
        { "MONGODB_URI", "" },
        { "MONGODB_URI", "not a uri at all" },
        { "MONGODB_URI", "mongodb://127.0.0.1:27017" }, // no database name
        { "REDIS_URL", "http://CanaryRedisHost:6379" },
        { "REDIS_URL", "redis://127.0.0.1:notaport" },
        { "RABBITMQ_URI", "rabbit://CanaryBroker" },
        { "BACKUP_SCHEDULE", "every CanaryHour" },
        { "BACKUP_SCHEDULE", "61 * * * *" },
        { "CLEANUP_SCHEDULE", "5 */8 * *" },
        { "RETENTION_HOURS", "-8" },
        { "RETENTION_HOURS", "eight" },
        { "RETENTION_HOURS", "8 hours, Canary" }, // long enough to be checked for an echo: a number is never parsed where its value could be quoted
        { "GITHUB_REPO", "git@github.com:CanaryOrg/backups.git" },
        { "GITHUB_PUBLIC_REPO", null }, // a key without a public repository (never the private one by default)
        { "GITHUB_TOKEN", null }, // a repository without a token
        { "GITHUB_TOKEN", "" },
        { "GITHUB_PUBLIC_REPO", "ftp://CanaryHost/repo" },
        { "ENCRYPTION_KEY", "Canary!!not-base64" },
        { "ENCRYPTION_KEY", Convert.ToBase64String(new byte[31]) },
        { "ENCRYPTION_PREVIOUS_KEYS", "CanaryOldKeyNotBase64!" },
        { "TELEGRAM_BOT_TOKEN", "CanaryTokenWithoutColon" },
        { "TELEGRAM_BOT_TOKEN", null }, // a channel without a token
        { "TELEGRAM_CHANNEL_ID", "Canary channel" },
        { "TELEGRAM_API_BASE_URL", "canary-bot-api:8081" },
        { "TELEGRAM_PART_SIZE_MB", "-19" },
        { "TELEGRAM_PART_SIZE_MB", "50" }, // the hosted API refuses uploads over 50 MB
        { "TELEGRAM_PART_SIZE_MB", "20" }, // hosted getFile serves at most 20 MB: such parts could not be restored
        { "TELEGRAM_LOCAL_API", "CanaryYes" },
        { "TELEGRAM_LOCAL_API", "true" }, // a local Bot API server, but no TELEGRAM_API_BASE_URL to reach it
        { "TELEGRAM_ALERT_CHAT_ID", "Canary alerts" },
        { "TELEGRAM_ENCRYPTION_KEY", "Canary!!not-base64" },
        { "TELEGRAM_ENCRYPTION_KEY", Convert.ToBase64String(new byte[16]) },
        { "TELEGRAM_ENCRYPTION_PREVIOUS_KEYS", "CanaryOldTelegramKey!" },
        { "SNAPSHOT_DIR", "relative/CanaryDir" },
        { "SNAPSHOT_PART_SIZE_MB", "-1" },
        { "ARTIFACT_STORE", "s3" },
        { "RETRY_LIMIT", "-1" },
        { "SINK_LEASE_SECONDS", "0" },
        { "SCHEDULER_CATCH_UP", "CanaryMaybe" },
        { "ALERT_MAX_AGE_HOURS", "-2" },
        { "RESTORE_DRILL_SCHEDULE", "daily at CanaryNoon" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_missing_or_malformed_variable_stops_start_up_naming_it_without_echoing_it(string variable, string? value)
    {
        var environment = new Dictionary<string, string?>(Valid);
        if (value is null)
        {
            environment.Remove(variable);
        }
        else
        {
            environment[variable] = value;
        }

        var result = await CliProcess.RunAsync(environment, TimeSpan.FromMinutes(1), "run");

        Assert.True(result.ExitCode == 2, result.Output);
        Assert.Contains(variable, result.Output);
        Assert.DoesNotContain("   at ", result.Output);
        if (value is { Length: >= 6 })
        {
            Assert.DoesNotContain(value, result.Output);
        }

        Assert.DoesNotContain("Canary", result.Output);
        foreach (var secret in new[] { Valid["GITHUB_TOKEN"]!, Valid["TELEGRAM_BOT_TOKEN"]!, Valid["ENCRYPTION_KEY"]!, Valid["TELEGRAM_ENCRYPTION_KEY"]! })
        {
            Assert.DoesNotContain(secret, result.Output);
        }
    }
}

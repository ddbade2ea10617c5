using Microsoft.Extensions.Configuration;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Telegram.Tests;

public sealed class TelegramOptionsTests
{
    private static TelegramSinkOptions Load(Dictionary<string, string?> values)
    {
        var options = new TelegramSinkOptions();
        options.Load(new ConfigurationBuilder().AddInMemoryCollection(values).Build());
        return options;
    }

    private const string Token = "123456:AAExampleTokenValue_0123456789abcdef";

    private static TelegramSinkOptions Load(string? baseUrl, string? localApi, string? partSize) => Load(new()
    {
        ["TELEGRAM_BOT_TOKEN"] = Token,
        ["TELEGRAM_CHANNEL_ID"] = "-1001234567890",
        ["TELEGRAM_API_BASE_URL"] = baseUrl,
        ["TELEGRAM_LOCAL_API"] = localApi,
        ["TELEGRAM_PART_SIZE_MB"] = partSize,
    });

    // Multipart framing, field names and the longest caption around a part: far more than the sink ever adds.
    private const long UploadOverhead = 64 * 1024;

    [Fact]
    public void No_variable_means_disabled() => Assert.False(Load([]).Enabled);

    [Fact]
    public void Only_some_variables_are_refused_naming_what_is_missing_and_never_the_token()
    {
        var errors = Load(new() { ["TELEGRAM_BOT_TOKEN"] = Token }).ConfigurationErrors;
        Assert.StartsWith("TELEGRAM_CHANNEL_ID is required", Assert.Single(errors));
        Assert.StartsWith("TELEGRAM_BOT_TOKEN is required", Assert.Single(Load(new() { ["TELEGRAM_CHANNEL_ID"] = "@backups" }).ConfigurationErrors));
        Assert.Contains(Load(new() { ["TELEGRAM_LOCAL_API"] = "false" }).ConfigurationErrors, e => e.StartsWith("TELEGRAM_BOT_TOKEN is required"));
        var malformed = Assert.Single(Load(new() { ["TELEGRAM_BOT_TOKEN"] = "not-a-token-secret", ["TELEGRAM_CHANNEL_ID"] = "@backups" }).ConfigurationErrors);
        Assert.DoesNotContain("not-a-token-secret", malformed);
    }

    [Theory]
    [InlineData(null, null, null, 19)] // hosted by default: 19 MiB parts, restorable through getFile
    [InlineData(null, null, "19", 19)]
    [InlineData(null, null, "1", 1)]
    [InlineData("http://telegram-proxy:8080", null, "19", 19)]
    [InlineData("http://bot-api:8081", "true", "500", 500)] // a local Bot API server takes up to 2000 MB
    [InlineData("http://bot-api:8081", "TRUE", "1907", 1907)]
    [InlineData("http://bot-api:8081", "false", "19", 19)]
    public void Accepted_part_sizes(string? baseUrl, string? localApi, string? partSize, int mebibytes)
    {
        var options = Load(baseUrl, localApi, partSize);
        Assert.Empty(options.ConfigurationErrors);
        Assert.True(options.Enabled);
        Assert.Equal(mebibytes * 1024L * 1024, options.PartSizeBytes);
        Assert.Equal(localApi?.ToLowerInvariant() == "true", options.LocalApi);
        Assert.DoesNotContain(Token, options.ToString());
    }

    [Theory]
    [InlineData(null, null, "20", "TELEGRAM_PART_SIZE_MB")] // the hosted getFile serves at most 20 MB: a 20 MiB part could not be restored
    [InlineData(null, null, "49", "TELEGRAM_PART_SIZE_MB")]
    [InlineData("http://telegram-proxy:8080", null, "20", "TELEGRAM_PART_SIZE_MB")] // a URL alone (a proxy) is still the hosted API
    [InlineData("http://telegram-proxy:8080", "false", "500", "TELEGRAM_PART_SIZE_MB")]
    [InlineData("http://bot-api:8081", "true", "1908", "TELEGRAM_PART_SIZE_MB")] // over 2000 MB
    [InlineData(null, null, "-1", "TELEGRAM_PART_SIZE_MB")]
    [InlineData(null, "true", "500", "TELEGRAM_LOCAL_API")] // a local server needs its URL
    [InlineData("http://bot-api:8081", "yes-please", "19", "TELEGRAM_LOCAL_API")]
    public void Refused_settings_name_the_variable_and_never_the_value(string? baseUrl, string? localApi, string partSize, string variable)
    {
        var options = Load(baseUrl, localApi, partSize);
        Assert.False(options.Enabled);
        var error = Assert.Single(options.ConfigurationErrors);
        Assert.StartsWith($"{variable} ", error);
        Assert.DoesNotContain(Token, error);
        Assert.DoesNotContain("yes-please", error);
        if (variable == "TELEGRAM_PART_SIZE_MB" && localApi != "true")
        {
            Assert.Contains("TELEGRAM_LOCAL_API=true", error); // says how to have larger parts
        }
    }

    /// <summary>
    /// Every part size the configuration lets through fits what Telegram takes and, on the hosted API, what getFile
    /// serves back — checked against the fake Bot API's limits (Telegram's), not the product's own — and nothing larger
    /// is let through: the sink cannot send a part Telegram would refuse, nor one a restore could not fetch.
    /// </summary>
    [Fact]
    public void Every_accepted_part_size_fits_telegrams_limits_and_none_beyond_them_is_accepted()
    {
        for (var megabytes = 1; megabytes <= 2100; megabytes++)
        {
            var bytes = megabytes * 1024L * 1024;
            var hosted = Load("http://telegram-proxy:8080", null, megabytes.ToString());
            Assert.True(hosted.Enabled == (bytes <= FakeTelegramBotApi.HostedDownloadLimit), $"hosted, {megabytes} MiB: {string.Join("; ", hosted.ConfigurationErrors)}");
            if (hosted.Enabled)
            {
                Assert.True(hosted.PartSizeBytes + UploadOverhead <= FakeTelegramBotApi.HostedUploadLimit);
            }

            var local = Load("http://bot-api:8081", "true", megabytes.ToString());
            Assert.True(local.Enabled == (bytes + UploadOverhead <= FakeTelegramBotApi.LocalUploadLimit), $"local, {megabytes} MiB: {string.Join("; ", local.ConfigurationErrors)}");
        }
    }
}

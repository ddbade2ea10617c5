using TeleGuard.Backup.Crypto;
using TeleGuard.Backup.Destinations.Telegram;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Telegram.Tests;

public sealed class TelegramOptionsTests
{
    private static CheckedOptions<TelegramSinkOptions> Load(Dictionary<string, string?> values) =>
        OptionsCheck.Bind<TelegramSinkOptions, TelegramSinkOptionsValidator>(values);

    private const string Token = "123456:AAExampleTokenValue_0123456789abcdef";

    private static CheckedOptions<TelegramSinkOptions> Load(string? baseUrl, string? localApi, string? partSize) => Load(new()
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
    public void No_variable_means_disabled() => Assert.False(Load([]).Valid.Enabled);

    [Fact]
    public void Alerts_may_not_go_to_the_backup_channel_whose_unrecorded_messages_retention_may_delete()
    {
        var errors = Load(new() { ["TELEGRAM_BOT_TOKEN"] = Token, ["TELEGRAM_CHANNEL_ID"] = "-1001234567890", ["TELEGRAM_ALERT_CHAT_ID"] = "-1001234567890" })
            .Errors;
        Assert.StartsWith("TELEGRAM_ALERT_CHAT_ID must not be the backup channel", Assert.Single(errors));
        Assert.True(Load(new() { ["TELEGRAM_BOT_TOKEN"] = Token, ["TELEGRAM_CHANNEL_ID"] = "-1001234567890", ["TELEGRAM_ALERT_CHAT_ID"] = "-1002222222222" }).Valid.Enabled);
    }

    [Fact]
    public void Only_some_variables_are_refused_naming_what_is_missing_and_never_the_token()
    {
        var errors = Load(new() { ["TELEGRAM_BOT_TOKEN"] = Token }).Errors;
        Assert.StartsWith("TELEGRAM_CHANNEL_ID is required", Assert.Single(errors));
        Assert.StartsWith("TELEGRAM_BOT_TOKEN is required", Assert.Single(Load(new() { ["TELEGRAM_CHANNEL_ID"] = "@backups" }).Errors));
        Assert.Contains(Load(new() { ["TELEGRAM_LOCAL_API"] = "false" }).Errors, e => e.StartsWith("TELEGRAM_BOT_TOKEN is required"));
        var malformed = Assert.Single(Load(new() { ["TELEGRAM_BOT_TOKEN"] = "not-a-token-secret", ["TELEGRAM_CHANNEL_ID"] = "@backups" }).Errors);
        Assert.DoesNotContain("not-a-token-secret", malformed);
    }

    [Fact]
    public void An_encryption_key_gives_the_copy_its_own_key_id_and_previous_keys_still_decrypt()
    {
        var key = EncryptionKeyRing.GenerateKey();
        var previous = EncryptionKeyRing.GenerateKey();
        var options = Load(new()
        {
            ["TELEGRAM_BOT_TOKEN"] = Token, ["TELEGRAM_CHANNEL_ID"] = "-1001234567890",
            ["TELEGRAM_ENCRYPTION_KEY"] = Convert.ToBase64String(key), ["TELEGRAM_ENCRYPTION_PREVIOUS_KEYS"] = Convert.ToBase64String(previous),
        }).Valid;
        Assert.Equal(EncryptionKeyRing.KeyIdOf(key), options.EncryptionKeys!.PrimaryKeyId);
        Assert.Equal(new[] { EncryptionKeyRing.KeyIdOf(key), EncryptionKeyRing.KeyIdOf(previous) }.Order(), options.EncryptionKeys.KeyIds.Order());
        Assert.Contains($"encrypted with key {EncryptionKeyRing.KeyIdOf(key)}", options.ToString());
        Assert.DoesNotContain(Convert.ToBase64String(key), options.ToString());
        Assert.Null(Load(TelegramWithoutKey).Valid.EncryptionKeys); // off by default
    }

    private static readonly Dictionary<string, string?> TelegramWithoutKey = new() { ["TELEGRAM_BOT_TOKEN"] = Token, ["TELEGRAM_CHANNEL_ID"] = "-1001234567890" };

    [Theory]
    [InlineData("TELEGRAM_ENCRYPTION_KEY", "CanaryNotBase64!!", "TELEGRAM_ENCRYPTION_KEY must be base64 of exactly 32 bytes")]
    [InlineData("TELEGRAM_ENCRYPTION_KEY", "Q2FuYXJ5U2hvcnRLZXk=", "TELEGRAM_ENCRYPTION_KEY must be base64 of exactly 32 bytes")] // 15 bytes
    [InlineData("TELEGRAM_ENCRYPTION_PREVIOUS_KEYS", "CanaryOldKey", "TELEGRAM_ENCRYPTION_PREVIOUS_KEYS is set without TELEGRAM_ENCRYPTION_KEY")]
    public void A_malformed_key_or_previous_keys_without_a_key_are_refused_naming_the_variable_never_the_value(string variable, string value, string error)
    {
        var errors = Load(new(TelegramWithoutKey) { [variable] = value }).Errors;
        Assert.StartsWith(error, Assert.Single(errors));
        Assert.DoesNotContain("Canary", errors[0]);
    }

    [Fact]
    public void A_key_without_the_bot_is_refused_like_any_other_telegram_variable_alone()
    {
        var errors = Load(new() { ["TELEGRAM_ENCRYPTION_KEY"] = Convert.ToBase64String(EncryptionKeyRing.GenerateKey()) }).Errors;
        Assert.Contains(errors, e => e.StartsWith("TELEGRAM_BOT_TOKEN is required when", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("TELEGRAM_CHANNEL_ID is required when", StringComparison.Ordinal));
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
        var options = Load(baseUrl, localApi, partSize).Valid;
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
        var error = Assert.Single(Load(baseUrl, localApi, partSize).Errors);
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
            Assert.True(hosted.Options is not null == (bytes <= FakeTelegramBotApi.HostedDownloadLimit), $"hosted, {megabytes} MiB: {string.Join("; ", hosted.Errors)}");
            if (hosted.Options is { } accepted)
            {
                Assert.True(accepted.PartSizeBytes + UploadOverhead <= FakeTelegramBotApi.HostedUploadLimit);
            }

            var local = Load("http://bot-api:8081", "true", megabytes.ToString());
            Assert.True(local.Options is not null == (bytes + UploadOverhead <= FakeTelegramBotApi.LocalUploadLimit), $"local, {megabytes} MiB: {string.Join("; ", local.Errors)}");
        }
    }
}

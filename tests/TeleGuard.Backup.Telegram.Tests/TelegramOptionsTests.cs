using Microsoft.Extensions.Configuration;

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

    [Fact]
    public void No_variable_means_disabled() => Assert.False(Load([]).Enabled);

    [Fact]
    public void Only_some_variables_are_refused_naming_what_is_missing_and_never_the_token()
    {
        var errors = Load(new() { ["TELEGRAM_BOT_TOKEN"] = Token }).ConfigurationErrors;
        Assert.StartsWith("TELEGRAM_CHANNEL_ID is required", Assert.Single(errors));
        Assert.StartsWith("TELEGRAM_BOT_TOKEN is required", Assert.Single(Load(new() { ["TELEGRAM_CHANNEL_ID"] = "@backups" }).ConfigurationErrors));
        var malformed = Assert.Single(Load(new() { ["TELEGRAM_BOT_TOKEN"] = "not-a-token-secret", ["TELEGRAM_CHANNEL_ID"] = "@backups" }).ConfigurationErrors);
        Assert.DoesNotContain("not-a-token-secret", malformed);
    }

    [Theory]
    [InlineData(null, "19", true)]
    [InlineData(null, "50", false)] // the hosted API refuses uploads over 50 MB
    [InlineData("http://bot-api:8081", "500", true)] // a local Bot API server takes up to 2000 MB
    [InlineData(null, "-1", false)]
    public void Part_size_is_bounded_by_what_the_server_accepts(string? baseUrl, string partSize, bool valid)
    {
        var options = Load(new() { ["TELEGRAM_BOT_TOKEN"] = Token, ["TELEGRAM_CHANNEL_ID"] = "-1001234567890", ["TELEGRAM_API_BASE_URL"] = baseUrl, ["TELEGRAM_PART_SIZE_MB"] = partSize });
        Assert.Equal(valid, options.Enabled);
        Assert.DoesNotContain(Token, options.ToString());
    }
}

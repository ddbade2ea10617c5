using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Configuration;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Storage.Tests;

/// <summary>The binding every options class shares: strings bound by the binder, rules reported by variable, values never.</summary>
public sealed partial class EnvironmentOptionsTests
{
    public sealed class SampleOptions
    {
        [ConfigurationKeyName("SAMPLE_COUNT")]
        [WholeNumber(1, 10)]
        public string? Count { get; set => field = Setting.Clean(value); }

        [ConfigurationKeyName("SAMPLE_FLAG")]
        [TrueOrFalse]
        public string? Flag { get; set => field = Setting.Clean(value); }

        [ConfigurationKeyName("SAMPLE_NAME")]
        [RequiredSetting]
        public string? Name { get; set => field = Setting.Clean(value); }
    }

    [OptionsValidator]
    public sealed partial class SampleOptionsValidator : IValidateOptions<SampleOptions>;

    private static CheckedOptions<SampleOptions> Bind(Dictionary<string, string?> variables) =>
        OptionsCheck.Bind<SampleOptions, SampleOptionsValidator>(variables);

    [Fact]
    public void Every_problem_is_listed_by_variable_and_no_value_is_quoted()
    {
        var errors = Bind(new() { ["SAMPLE_COUNT"] = "Canary11", ["SAMPLE_FLAG"] = "CanaryYes" }).Errors;

        Assert.Equal(
            ["SAMPLE_COUNT must be a whole number from 1 to 10.", "SAMPLE_FLAG must be true or false.", "SAMPLE_NAME is required but not set."],
            errors.Order(StringComparer.Ordinal));
        Assert.DoesNotContain(errors, e => e.Contains("Canary", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("11")]
    [InlineData("1.5")]
    public void A_number_out_of_range_or_not_whole_is_refused(string count) =>
        Assert.Equal("SAMPLE_COUNT must be a whole number from 1 to 10.", Assert.Single(Bind(new() { ["SAMPLE_COUNT"] = count, ["SAMPLE_NAME"] = "n" }).Errors));

    [Fact]
    public void Blank_means_unset_and_values_are_trimmed()
    {
        var options = Bind(new() { ["SAMPLE_COUNT"] = "", ["SAMPLE_FLAG"] = "  ", ["SAMPLE_NAME"] = " n " }).Valid;

        Assert.Null(options.Count);
        Assert.Null(options.Flag);
        Assert.Equal("n", options.Name);
        Assert.Equal("SAMPLE_NAME is required but not set.", Assert.Single(Bind(new() { ["SAMPLE_NAME"] = "" }).Errors));
    }

    [Fact]
    public void Unrelated_variables_named_like_a_derived_value_are_not_read()
    {
        // PORT, DATABASE, ENABLED …: variables of other programs, named like RedisOptions' derived values (Port, Database).
        var redis = OptionsCheck.Bind<RedisOptions, RedisOptionsValidator>(new Dictionary<string, string?>
        {
            ["REDIS_URL"] = "redis://cache:6380/2", ["PORT"] = "CanaryPort", ["DATABASE"] = "CanaryDatabase", ["ENABLED"] = "CanaryYes",
        });

        Assert.Empty(redis.Errors);
        Assert.Equal(6380, redis.Options!.Port);
        Assert.Equal(2, redis.Options.Database);
    }
}

using TeleGuard.Backup.Destinations.GitHub;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.GitHub.Tests;

public sealed class GitHubSinkOptionsTests
{
    private static CheckedOptions<GitHubSinkOptions> Load(Dictionary<string, string?> values) =>
        OptionsCheck.Bind<GitHubSinkOptions, GitHubSinkOptionsValidator>(values);

    [Fact]
    public void No_variable_means_disabled() => Assert.False(Load([]).Valid.Enabled);

    [Fact]
    public void Some_but_not_all_variables_name_what_is_missing_without_echoing_the_token()
    {
        // GITHUB_TOKEN alone serves the public copy: it does not turn this sink on.
        var onlyToken = Load(new() { ["GITHUB_TOKEN"] = "ghs_secretValue" });
        Assert.Empty(onlyToken.Errors);
        Assert.False(onlyToken.Valid.Enabled);
        Assert.StartsWith("GITHUB_TOKEN is required", Assert.Single(Load(new() { ["GITHUB_REPO"] = "https://github.com/o/r.git" }).Errors));
        Assert.Equal(2, Load(new() { ["GITHUB_BACKUP_BRANCH"] = "b" }).Errors.Count);
    }

    [Theory]
    [InlineData("https://x-access-token:ghs_secretValue@github.com/o/r.git", "must not contain credentials")]
    [InlineData("git@github.com:o/r.git", "https URL")]
    public void A_bad_repository_url_is_refused(string url, string expected)
    {
        var error = Assert.Single(Load(new() { ["GITHUB_REPO"] = url, ["GITHUB_TOKEN"] = "t" }).Errors);
        Assert.Contains(expected, error);
        Assert.DoesNotContain("ghs_secretValue", error);
    }

    [Fact]
    public void A_full_configuration_enables_the_sink_with_the_default_branch()
    {
        var options = Load(new() { ["GITHUB_REPO"] = "https://github.com/o/r.git", ["GITHUB_TOKEN"] = "ghs_secretValue" }).Valid;
        Assert.True(options.Enabled);
        Assert.Equal("backups", options.Remote!.Branch);
        Assert.DoesNotContain("ghs_secretValue", options.Remote.ToString());
    }
}

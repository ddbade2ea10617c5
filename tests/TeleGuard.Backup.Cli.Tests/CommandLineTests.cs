using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Cli.Tests;

/// <summary>What the operator sees of the command line itself: help per command, typo suggestions, rejected words, exit codes.</summary>
public sealed class CommandLineTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(1);
    private static readonly Dictionary<string, string?> NoConfiguration = [];

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    [Fact]
    public async Task Restore_help_lists_its_own_options_and_examples_and_no_other_commands_options()
    {
        var result = await CliProcess.RunAsync(NoConfiguration, Timeout, "restore", "--help");

        Assert.True(result.ExitCode == 0, result.Output);
        var help = result.StandardOutput;
        foreach (var option in new[] { "--from", "--path", "--snapshot", "--to-uri", "--db", "--collections", "--drop", "--dry-run" })
        {
            Assert.Contains(option, help);
        }

        Assert.Contains("Examples:", help);
        Assert.Contains("teleguard-backup restore --from file --path", help);
        foreach (var option in new[] { "--json", "--limit", "--max-age-hours", "--wait", "--timeout", "--in ", "--out" })
        {
            Assert.DoesNotContain(option, help);
        }

        Assert.Empty(result.StandardError);
    }

    [Theory]
    [InlineData("run", "teleguard-backup run")]
    [InlineData("snapshot", "--timeout")]
    [InlineData("cleanup", "--wait")]
    [InlineData("status", "--max-age-hours")]
    [InlineData("verify", "--from")]
    [InlineData("drill", "teleguard-backup drill")]
    [InlineData("keygen", "teleguard-backup keygen")]
    [InlineData("decrypt", "--out")]
    public async Task Every_command_has_help_with_its_options_and_examples(string command, string expected)
    {
        var result = await CliProcess.RunAsync(NoConfiguration, Timeout, command, "-h");

        Assert.True(result.ExitCode == 0, result.Output);
        Assert.Contains($"teleguard-backup {command} [options]", result.StandardOutput);
        Assert.Contains(expected, result.StandardOutput);
        Assert.Contains("Examples:", result.StandardOutput);
    }

    [Fact]
    public async Task A_mistyped_command_exits_2_with_one_line_suggesting_the_command_meant()
    {
        var result = await CliProcess.RunAsync(NoConfiguration, Timeout, "staus");

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(Lines(result.StandardError));
        Assert.StartsWith("teleguard-backup: ", line);
        Assert.Contains("'staus'", line);
        Assert.Contains("status", line); // the suggestion: "staus" itself does not contain it
        Assert.Empty(result.StandardOutput);
    }

    [Theory]
    [InlineData("status", "extra")]
    [InlineData("keygen", "now")]
    [InlineData("status", "--to-uri", "mongodb://localhost/x")] // another command's option
    public async Task Words_a_command_does_not_take_are_rejected_with_exit_code_2_before_it_runs(params string[] args)
    {
        var result = await CliProcess.RunAsync(NoConfiguration, Timeout, args);

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(Lines(result.StandardError));
        Assert.Contains($"'{args[1]}'", line);
        Assert.DoesNotContain("MONGODB_URI", line); // not the configuration check of a command that ran anyway
        Assert.Empty(result.StandardOutput); // keygen did not print a key
    }

    [Fact]
    public async Task Root_help_lists_every_command_and_the_exit_codes()
    {
        var result = await CliProcess.RunAsync(NoConfiguration, Timeout, "--help");

        Assert.True(result.ExitCode == 0, result.Output);
        var lines = Lines(result.StandardOutput);
        foreach (var command in new[] { "run", "snapshot", "cleanup", "status", "restore", "verify", "drill", "keygen", "decrypt" })
        {
            Assert.Contains(lines, l => l.StartsWith(command + " ", StringComparison.Ordinal));
        }

        Assert.Contains("Exit codes:", lines);
        Assert.Contains(lines, l => l.StartsWith("0  ok", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("1  failed", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("2  usage or configuration error", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("3  timeout", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_a_command_the_help_is_printed_and_the_exit_code_is_2()
    {
        var result = await CliProcess.RunAsync(NoConfiguration, Timeout);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Exit codes:", result.StandardOutput);
        Assert.Contains("restore", result.StandardOutput);
    }

    [Fact]
    public async Task A_number_out_of_range_names_the_option_and_its_range()
    {
        var result = await CliProcess.RunAsync(NoConfiguration, Timeout, "snapshot", "--wait", "--timeout", "0");

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(Lines(result.StandardError));
        Assert.Contains("--timeout must be a number from 1 to 604800", line);

        var parallel = await CliProcess.RunAsync(NoConfiguration, Timeout, "restore", "--from", "store", "--to-uri", "mongodb://localhost/x", "--parallel-collections", "0");
        Assert.Equal(2, parallel.ExitCode);
        Assert.Contains("--parallel-collections must be a number from 1 to 64", Assert.Single(Lines(parallel.StandardError)));
    }

    [Theory]
    [InlineData("restore", "--from", "github", "--drop", "mongodb://admin:CanaryUsagePassword@db.example/app")] // --to-uri forgotten after a flag
    [InlineData("restore", "--from", "github", "mongodb://admin:CanaryUsagePassword@db.example/app")] // --to-uri forgotten
    [InlineData("restore", "--from", "github", "--to-uri", "mongodb://admin:CanaryUsagePassword@db.example/app", "mongodb://admin:CanaryUsagePassword@other.example/app")]
    public async Task A_connection_string_in_the_wrong_place_is_a_usage_error_that_does_not_print_its_password(params string[] args)
    {
        var result = await CliProcess.RunAsync(NoConfiguration, Timeout, args);

        Assert.Equal(2, result.ExitCode);
        Assert.Single(Lines(result.StandardError));
        Assert.DoesNotContain("CanaryUsagePassword", result.Output);
    }
}

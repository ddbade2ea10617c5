using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using TeleGuard.Backup.Configuration;
using TeleGuard.Backup.Encryption;
using TeleGuard.Backup.GitHub;
using TeleGuard.Backup.Telegram;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Deployment.Tests;

/// <summary>What can be checked of the docker compose deployment on a machine without a Docker engine.</summary>
public sealed class DeploymentTests
{
    private static readonly string Root = FindRoot();

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "TeleGuard.Backup.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("TeleGuard.Backup.sln not found above the test binaries.");
    }

    private static (int ExitCode, string Output) Run(string program, string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output + error.Result);
    }

    [Fact]
    public void The_compose_file_validates_with_the_example_environment_and_the_sinks_can_scale()
    {
        if (!File.Exists("/usr/bin/docker-compose") && !File.Exists("/usr/local/bin/docker-compose"))
        {
            if (TestServices.Required)
            {
                throw new InvalidOperationException("docker-compose is not installed (.ci/run installs Debian's package).");
            }

            Assert.Skip("docker-compose is not installed; compose validation skipped.");
        }

        using var folder = new TemporaryDirectory();
        Directory.CreateDirectory(folder.Path);
        File.Copy(Path.Combine(Root, "docker-compose.yml"), Path.Combine(folder.Path, "docker-compose.yml"));
        File.Copy(Path.Combine(Root, ".env.example"), Path.Combine(folder.Path, ".env"));
        var (exitCode, output) = Run("docker-compose", folder.Path, "config");
        Assert.True(exitCode == 0, output);
        foreach (var service in new[] { "mongo:", "redis:", "rabbitmq:", "scheduler:", "snapshot:", "github-sink:", "public-sink:", "telegram-sink:", "cli:" })
        {
            Assert.Contains($"  {service}", output);
        }

        Assert.DoesNotContain("container_name", output);
        foreach (var sink in new[] { "github-sink", "public-sink", "telegram-sink" })
        {
            Assert.DoesNotContain("ports:", ServiceBlock(output, sink));
            Assert.Contains("condition: service_healthy", ServiceBlock(output, sink));
        }
    }

    // The lines of one service in `docker-compose config` output (services at two spaces of indentation).
    private static string ServiceBlock(string config, string service)
    {
        var lines = config.Split('\n');
        var start = Array.IndexOf(lines, $"  {service}:");
        Assert.True(start >= 0, $"service {service} not in the configuration");
        var end = start + 1;
        while (end < lines.Length && (lines[end].StartsWith("    ", StringComparison.Ordinal) || lines[end].Length == 0))
        {
            end++;
        }

        return string.Join('\n', lines[start..end]);
    }

    [Fact]
    public void The_example_environment_starts_with_every_destination_disabled_and_no_configuration_error()
    {
        var values = File.ReadAllLines(Path.Combine(Root, ".env.example"))
            .Where(l => l.Length > 0 && !l.StartsWith('#') && l.Contains('='))
            .ToDictionary(l => l[..l.IndexOf('=')], l => (string?)l[(l.IndexOf('=') + 1)..]);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        foreach (var options in new EnvironmentOptions[] { new GitHubSinkOptions(), new EncryptionSinkOptions(), new TelegramSinkOptions() })
        {
            options.Load(configuration);
            Assert.Empty(options.ConfigurationErrors);
        }

        Assert.All(new[] { "MONGODB_URI", "REDIS_URL", "BACKUP_SCHEDULE", "CLEANUP_SCHEDULE", "RETENTION_HOURS", "GITHUB_REPO", "GITHUB_TOKEN", "ENCRYPTION_KEY",
            "ENCRYPTION_PREVIOUS_KEYS", "GITHUB_PUBLIC_REPO", "GITHUB_PUBLIC_BRANCH", "TELEGRAM_BOT_TOKEN", "TELEGRAM_CHANNEL_ID", "TELEGRAM_API_BASE_URL" },
            name => Assert.Contains(name, File.ReadAllText(Path.Combine(Root, ".env.example"))));
    }

    [Theory]
    [InlineData("TeleGuard.Backup.Scheduler", "TeleGuard.Backup.Scheduler")]
    [InlineData("TeleGuard.Backup.Snapshot", "TeleGuard.Backup.Snapshot")]
    [InlineData("TeleGuard.Backup.GitHub", "TeleGuard.Backup.GitHub")]
    [InlineData("TeleGuard.Backup.Encryption", "TeleGuard.Backup.Encryption")]
    [InlineData("TeleGuard.Backup.Telegram", "TeleGuard.Backup.Telegram")]
    [InlineData("TeleGuard.Backup.Cli", "teleguard-backup")]
    public void Every_service_publishes_in_release_as_the_dockerfile_does(string project, string assembly)
    {
        using var output = new TemporaryDirectory();
        var (exitCode, log) = Run("dotnet", Root, "publish", $"services/{project}/{project}.csproj", "-c", "Release", "-o", output.Path,
            "-p:UseAppHost=false", "--nologo", "-v", "quiet");
        Assert.True(exitCode == 0, log);
        Assert.True(File.Exists(Path.Combine(output.Path, $"{assembly}.dll")));
    }
}

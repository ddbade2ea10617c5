using System.Diagnostics;
using TeleGuard.Backup.Destinations.GitHub;
using TeleGuard.Backup.Destinations.Public;
using TeleGuard.Backup.Destinations.Telegram;
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

    private static (int ExitCode, string Output) Run(string program, string workingDirectory, params string[] args) =>
        Run(program, workingDirectory, cleanEnvironment: false, args);

    // cleanEnvironment: only PATH and HOME, as an operator's shell would have (the test servers' variables such as
    // RABBITMQ_URI would otherwise win over .env in compose's interpolation).
    private static (int ExitCode, string Output) Run(string program, string workingDirectory, bool cleanEnvironment, params string[] args)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        if (cleanEnvironment)
        {
            var keep = KeptVariables.ToDictionary(n => n, n => System.Environment.GetEnvironmentVariable(n));
            start.Environment.Clear();
            foreach (var (name, value) in keep)
            {
                start.Environment[name] = value;
            }
        }

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

    // What a clean environment keeps: enough to find and run the program.
    private static readonly string[] KeptVariables = ["PATH", "HOME"];

    private static readonly Dictionary<string, string> FilledIn = new()
    {
        ["RABBITMQ_PASSWORD"] = "p@ss/w0rd",
        ["GITHUB_REPO"] = "https://github.com/acme/backups.git",
        ["GITHUB_TOKEN"] = "ghs_CanaryGitHubTokenValue",
        ["GITHUB_PUBLIC_REPO"] = "https://github.com/acme/public-backups.git",
        ["ENCRYPTION_KEY"] = "Q2FuYXJ5RW5jcnlwdGlvbktleTMyQnl0ZXNMb25nISE=",
        ["TELEGRAM_BOT_TOKEN"] = "123456:CanaryTelegramTokenValue",
        ["TELEGRAM_CHANNEL_ID"] = "-1001234567890",
        ["TELEGRAM_ENCRYPTION_KEY"] = "Q2FuYXJ5VGVsZWdyYW1LZXkzMkJ5dGVzTG9uZ19fISE=",
    };

    private static void RequireDockerCompose()
    {
        if (!File.Exists("/usr/bin/docker-compose") && !File.Exists("/usr/local/bin/docker-compose"))
        {
            if (TestServices.Required)
            {
                throw new InvalidOperationException("docker-compose is not installed (.ci/run installs Debian's package).");
            }

            Assert.Skip("docker-compose is not installed; compose validation skipped.");
        }
    }

    // `docker-compose config` (Compose v1, the stricter interpolator) of the compose file with .env.example filled in.
    private static (int ExitCode, string Output) ComposeConfig(Dictionary<string, string> values)
    {
        using var folder = new TemporaryDirectory();
        Directory.CreateDirectory(folder.Path);
        File.Copy(Path.Combine(Root, "docker-compose.yml"), Path.Combine(folder.Path, "docker-compose.yml"));
        var env = File.ReadAllLines(Path.Combine(Root, ".env.example"))
            .Select(l => l.Contains('=') && !l.StartsWith('#') && values.TryGetValue(l[..l.IndexOf('=')], out var v) ? $"{l[..l.IndexOf('=')]}={v}" : l);
        File.WriteAllLines(Path.Combine(folder.Path, ".env"), env);
        return Run("docker-compose", folder.Path, cleanEnvironment: true, "config");
    }

    [Fact]
    public void Compose_resolves_every_services_environment_and_each_gets_only_its_own_secrets()
    {
        RequireDockerCompose();
        var (exitCode, output) = ComposeConfig(FilledIn);
        Assert.True(exitCode == 0, output);
        var services = (Dictionary<object, object>)((Dictionary<object, object>)new YamlDotNet.Serialization.Deserializer().Deserialize<object>(output))["services"];
        Dictionary<object, object> Service(string name) => (Dictionary<object, object>)services[name];
        Dictionary<string, string> Environment(string name) =>
            ((Dictionary<object, object>)Service(name)["environment"]).ToDictionary(e => (string)e.Key, e => e.Value as string ?? "");

        var secrets = new Dictionary<string, string[]>
        {
            ["scheduler"] = [],
            ["snapshot"] = [],
            ["github-sink"] = ["GITHUB_TOKEN"],
            ["public-sink"] = ["GITHUB_TOKEN", "ENCRYPTION_KEY"],
            ["telegram-sink"] = ["TELEGRAM_BOT_TOKEN", "TELEGRAM_ENCRYPTION_KEY"],
        };
        foreach (var (name, own) in secrets)
        {
            var environment = Environment(name);
            Assert.Equal("amqp://teleguard@rabbitmq:5672/", environment["RABBITMQ_URI"]); // no password, no nested interpolation
            Assert.Equal("p@ss/w0rd", environment["RABBITMQ_PASSWORD"]);
            Assert.Equal("mongodb://mongo:27017/teleguard?replicaSet=rs0", environment["MONGODB_URI"]);
            foreach (var secret in new[] { "GITHUB_TOKEN", "ENCRYPTION_KEY", "TELEGRAM_BOT_TOKEN", "TELEGRAM_ENCRYPTION_KEY" })
            {
                if (own.Contains(secret))
                {
                    Assert.Equal(FilledIn[secret], environment[secret]);
                }
                else
                {
                    Assert.False(environment.ContainsKey(secret), $"{name} receives {secret}");
                    Assert.DoesNotContain(FilledIn[secret], string.Join('\n', environment.Values));
                }
            }

            var service = Service(name);
            Assert.False(service.ContainsKey("env_file"), $"{name} reads the whole .env");
            Assert.Equal("120s", service["stop_grace_period"]);
            Assert.Equal("110", environment["DOTNET_SHUTDOWNTIMEOUTSECONDS"]);
            Assert.True(service.ContainsKey("mem_limit"), $"{name} has no memory limit");
            var logging = (Dictionary<object, object>)service["logging"];
            Assert.Equal("json-file", logging["driver"]);
            Assert.Equal("10m", ((Dictionary<object, object>)logging["options"])["max-size"]);
            Assert.False(service.ContainsKey("ports"), $"{name} publishes a port");
        }

        Assert.Equal("", Environment("github-sink")["GITHUB_BACKUP_BRANCH"]); // empty: the sink's own default
        Assert.Equal("p@ss/w0rd", Environment("rabbitmq")["RABBITMQ_DEFAULT_PASS"]);
        Assert.Equal("rabbitmq", Service("rabbitmq")["hostname"]); // its data folder is named after it
        Assert.Equal("mongo:7.0", Service("mongo")["image"]);
        Assert.Equal("redis:7.4", Service("redis")["image"]);
        Assert.Matches(@"^rabbitmq:4\.\d+-management$", (string)Service("rabbitmq")["image"]);
        var mongoCheck = string.Join(' ', ((List<object>)((Dictionary<object, object>)Service("mongo")["healthcheck"])["test"]).Cast<string>());
        Assert.Contains("rs.initiate", mongoCheck);
        Assert.Contains("db.hello().isWritablePrimary", mongoCheck);
    }

    [Fact]
    public void Compose_refuses_to_start_without_a_rabbitmq_password_naming_it()
    {
        RequireDockerCompose();
        var (exitCode, output) = ComposeConfig(new Dictionary<string, string>(FilledIn) { ["RABBITMQ_PASSWORD"] = "" });
        Assert.NotEqual(0, exitCode);
        Assert.Contains("RABBITMQ_PASSWORD", output);
    }

    [Fact]
    public void The_image_build_context_is_an_allow_list_and_the_restore_layer_lists_every_project()
    {
        var ignore = File.ReadAllLines(Path.Combine(Root, ".dockerignore")).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        Assert.Equal("*", ignore[0]);
        Assert.DoesNotContain(ignore, l => l.StartsWith("!.env", StringComparison.Ordinal));
        var dockerfile = File.ReadAllText(Path.Combine(Root, "Dockerfile"));
        foreach (var project in Directory.GetFiles(Path.Combine(Root, "shared"), "*.csproj", SearchOption.AllDirectories)
                     .Concat(Directory.GetFiles(Path.Combine(Root, "services"), "*.csproj", SearchOption.AllDirectories)))
        {
            var relative = Path.GetRelativePath(Root, project).Replace('\\', '/');
            Assert.Contains($"COPY {relative} ", dockerfile);
        }

        Assert.Contains("EXPOSE 8080", dockerfile);
        Assert.Contains("--mount=type=cache", dockerfile);
    }

    [Fact]
    public void The_example_environment_starts_with_every_destination_disabled_and_no_configuration_error()
    {
        var values = File.ReadAllLines(Path.Combine(Root, ".env.example"))
            .Where(l => l.Length > 0 && !l.StartsWith('#') && l.Contains('='))
            .ToDictionary(l => l[..l.IndexOf('=')], l => (string?)l[(l.IndexOf('=') + 1)..]);
        Assert.False(OptionsCheck.Bind<GitHubSinkOptions, GitHubSinkOptionsValidator>(values).Valid.Enabled);
        Assert.False(OptionsCheck.Bind<PublicSinkOptions, PublicSinkOptionsValidator>(values).Valid.Enabled);
        Assert.False(OptionsCheck.Bind<TelegramSinkOptions, TelegramSinkOptionsValidator>(values).Valid.Enabled);

        // Every variable of README's configuration table is in the example, as a line of its own.
        var readme = File.ReadAllLines(Path.Combine(Root, "README.md"));
        var table = readme.SkipWhile(l => l != "## Configuration").TakeWhile(l => !l.StartsWith("## How", StringComparison.Ordinal))
            .Select(l => System.Text.RegularExpressions.Regex.Match(l, @"^\| `([A-Z0-9_]+)`"))
            .Where(m => m.Success).Select(m => m.Groups[1].Value).ToList();
        Assert.True(table.Count > 30, $"only {table.Count} variables found in README's configuration table");
        Assert.All(table, name => Assert.True(values.ContainsKey(name), $"{name} is in README's configuration table but not in .env.example"));
    }

    [Theory]
    [InlineData("TeleGuard.Backup.Scheduler", "TeleGuard.Backup.Scheduler")]
    [InlineData("TeleGuard.Backup.Snapshot", "TeleGuard.Backup.Snapshot")]
    [InlineData("TeleGuard.Backup.Recorder", "TeleGuard.Backup.Recorder")]
    [InlineData("TeleGuard.Backup.GitHub", "TeleGuard.Backup.GitHub")]
    [InlineData("TeleGuard.Backup.Public", "TeleGuard.Backup.Public")]
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

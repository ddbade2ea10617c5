using System.Text.RegularExpressions;
using MongoDB.Driver;
using TeleGuard.Backup.Crypto;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Cli.Tests;

/// <summary>
/// A source database backed up with the real program to a fresh repository on the git server: the plain snapshot on
/// the private branch and the encrypted one on the public branch. Commands run with <c>TMPDIR</c> set to a folder of
/// the test's own, so a test can see everything a command leaves next to its work folders.
/// </summary>
public sealed partial class GitDestinations
{
    public static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    private GitDestinations(GitServer server, Uri repository, byte[] key, IMongoDatabase source, Dictionary<string, string?> environment)
    {
        Server = server;
        Repository = repository;
        Key = key;
        Source = source;
        Environment = environment;
    }

    public GitServer Server { get; }
    public Uri Repository { get; }
    public byte[] Key { get; }
    public IMongoDatabase Source { get; }
    public Dictionary<string, string?> Environment { get; }

    /// <param name="work">The test's folder: holds the snapshot directory, and <paramref name="temporary"/> is the commands' TMPDIR.</param>
    public static async Task<GitDestinations> CreateAsync(string work, string temporary)
    {
        var (uri, source) = await RestoreSourceData.CreateAsync();
        var server = GitServer.FromEnvironment();
        var (repository, _) = server.CreateRepository();
        var key = EncryptionKeyRing.GenerateKey();
        Directory.CreateDirectory(temporary);
        return new GitDestinations(server, repository, key, source, new Dictionary<string, string?>
        {
            ["MONGODB_URI"] = uri,
            ["REDIS_URL"] = await TestServices.RedisUrlAsync(),
            ["REDIS_KEY_PREFIX"] = TestServices.UniqueName("test"),
            ["SNAPSHOT_DIR"] = Path.Combine(work, "snapshots"),
            ["LOG_FORMAT"] = "text",
            ["GITHUB_REPO"] = repository.ToString(),
            ["GITHUB_PUBLIC_REPO"] = repository.ToString(),
            ["GITHUB_TOKEN"] = server.Token,
            ["ENCRYPTION_KEY"] = Convert.ToBase64String(key),
            ["TMPDIR"] = temporary,
            ["DOTNET_EnableDiagnostics"] = "0", // no diagnostic sockets in TMPDIR
        });
    }

    /// <summary>Takes a snapshot to every configured destination; returns its id.</summary>
    public async Task<string> SnapshotAsync()
    {
        var (exitCode, output) = await RunAsync("snapshot");
        Assert.True(exitCode == 0, output);
        Assert.Contains(": complete", output);
        return SnapshotIdPattern().Match(output).Groups[1].Value;
    }

    public Task<CliResult> RunAsync(params string[] args) => CliProcess.RunAsync(Environment, Timeout, args);

    public GitPlumbing Clone(string branch, string path) => GitPlumbing.Clone(Server, Repository, branch, path);

    [GeneratedRegex(@"Requested snapshot (\d{8}T\d{6}Z)")]
    private static partial Regex SnapshotIdPattern();
}

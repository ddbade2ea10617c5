using System.Diagnostics;
using System.Formats.Tar;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MongoDB.Driver;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Cli.Tests;

/// <summary>Every failure of every command is one line on stderr naming what failed: exit 1, or 2 for bad usage.</summary>
public sealed class FailureLineTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);
    private readonly TemporaryDirectory _work = new();

    public void Dispose() => _work.Dispose();

    /// <summary>A loopback port nothing listens on (taken from the system, then released).</summary>
    private static int ClosedPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    [Theory]
    [InlineData("snapshot", "--wait")]
    [InlineData("snapshot")]
    [InlineData("status")]
    [InlineData("drill")]
    public async Task With_mongodb_unreachable_a_command_fails_within_the_server_selection_timeout_with_one_line_naming_the_host(params string[] args)
    {
        var port = ClosedPort();
        var environment = new Dictionary<string, string?>
        {
            // Credentials in the URI: the error names the host and port, never them.
            ["MONGODB_URI"] = $"mongodb://backup:CanaryMongoPassword@127.0.0.1:{port}/teleguard?serverSelectionTimeoutMS=3000",
            ["REDIS_URL"] = await TestServices.RedisUrlAsync(),
            ["REDIS_KEY_PREFIX"] = TestServices.UniqueName("test"),
            ["SNAPSHOT_DIR"] = _work.Path,
            ["LOG_FORMAT"] = "text",
        };

        var elapsed = Stopwatch.StartNew();
        var result = await CliProcess.RunAsync(environment, Timeout, args);
        elapsed.Stop();

        Assert.True(result.ExitCode == 1, result.Output);
        var line = Assert.Single(Lines(result.StandardError));
        Assert.StartsWith($"teleguard-backup {args[0]}: MongoDB at 127.0.0.1:{port} (MONGODB_URI) is unreachable: no MongoDB server answered within 3 s", line);
        Assert.DoesNotContain("Canary", result.Output);
        // Given up when the driver's server selection did (3 s), plus the start of a .NET process; not hanging, not later.
        Assert.InRange(elapsed.Elapsed, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(3 + 15));
    }

    [Theory]
    [InlineData("manifest is not JSON")]
    [InlineData("not a tar archive")]
    public async Task Restore_from_a_corrupt_file_fails_with_one_line_and_writes_nothing(string corruption)
    {
        var file = Path.Combine(_work.Path, "snapshot.tar");
        Directory.CreateDirectory(_work.Path);
        if (corruption == "manifest is not JSON")
        {
            await using var tar = new TarWriter(File.Create(file), TarEntryFormat.Pax);
            var entry = new PaxTarEntry(TarEntryType.RegularFile, "manifest.json") { DataStream = new MemoryStream(Encoding.UTF8.GetBytes("{\"format\": \"teleguard-snap")) };
            await tar.WriteEntryAsync(entry);
        }
        else
        {
            await File.WriteAllBytesAsync(file, Enumerable.Range(0, 5000).Select(i => (byte)(i * 7)).ToArray());
        }

        var targetUri = await TestServices.MongoUriAsync();
        var result = await CliProcess.RunAsync(new Dictionary<string, string?>(), Timeout, "restore", "--from", "file", "--path", file, "--to-uri", targetUri);

        Assert.True(result.ExitCode == 1, result.Output);
        var line = Assert.Single(Lines(result.StandardError));
        Assert.StartsWith("teleguard-backup", line);
        Assert.DoesNotContain(" at ", line); // no stack frame
        var target = new MongoClient(targetUri).GetDatabase(MongoUrl.Create(targetUri).DatabaseName);
        Assert.Empty(await (await target.ListCollectionNamesAsync()).ToListAsync());
    }

    [Theory]
    [InlineData("frobnicate")]
    [InlineData("status", "--jsn")]
    [InlineData("status", "--limit", "many")]
    [InlineData("restore", "--from", "store")]
    public async Task Bad_usage_is_one_line_and_exit_code_2(params string[] args)
    {
        var result = await CliProcess.RunAsync(new Dictionary<string, string?>(), Timeout, args);

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(Lines(result.StandardError));
        Assert.StartsWith("teleguard-backup: ", line);
        Assert.Contains("--help", line);
    }
}

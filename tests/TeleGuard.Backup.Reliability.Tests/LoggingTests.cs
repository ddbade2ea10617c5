using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MongoDB.Bson;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Reliability.Tests;

/// <summary>The production log format (JSON on stderr) through a whole snapshot, and a log call that cannot be written.</summary>
public sealed partial class LoggingTests
{
    private static readonly string[] Services = ["TeleGuard.Backup.Snapshot", "TeleGuard.Backup.GitHub", "TeleGuard.Backup.Public", "TeleGuard.Backup.Telegram"];

    [Fact]
    public async Task With_the_default_JSON_log_format_every_destination_copies_on_the_first_attempt_and_every_line_is_JSON()
    {
        await using var pipeline = await Pipeline.CreateAsync(rabbitMq: true);
        Assert.False(pipeline.Settings.ContainsKey("LOG_FORMAT")); // the services' default: json
        var services = new List<CliProcess>();
        foreach (var service in Services)
        {
            services.Add(await pipeline.StartServiceAsync(service));
        }

        var id = await pipeline.RequestSnapshotAsync();
        var record = await pipeline.FinishedAsync(id);
        Assert.True(record.Status == BackupStatus.Complete, pipeline.ProcessOutput);
        Assert.All(BackupSinks.All, sink => Assert.True(record.Sinks[sink].Attempts == 1, $"{sink}: {record.Sinks[sink].Attempts} attempts\n{pipeline.ProcessOutput}"));

        // Each sink logs its copy just after recording it: wait for those lines to be written.
        var lines = await TestHosts.EventuallyAsync(() =>
        {
            var written = services.SelectMany(s => s.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries)).ToList();
            return Task.FromResult(BackupSinks.All.All(sink => written.Any(l => l.Contains($"{sink}: snapshot {id} copied", StringComparison.Ordinal))) ? written : null);
        }, TimeSpan.FromSeconds(30), $"every sink to log its copy\n{pipeline.ProcessOutput}");
        var entries = lines.Select(line =>
        {
            try
            {
                return JsonDocument.Parse(line).RootElement;
            }
            catch (JsonException)
            {
                Assert.Fail($"Not a JSON log line: {line}");
                throw;
            }
        }).ToList();
        var messages = entries.Select(e => e.GetProperty("Message").GetString()!).ToList();
        Assert.DoesNotContain(messages, m => m.Contains("attempt failed, will retry", StringComparison.Ordinal) || m.Contains($"snapshot {id} failed", StringComparison.Ordinal));
        foreach (var sink in BackupSinks.All)
        {
            var copied = Assert.Single(entries, e => e.GetProperty("Message").GetString()!.StartsWith($"{sink}: snapshot {id} copied: {{", StringComparison.Ordinal));
            Assert.Equal("Information", copied.GetProperty("LogLevel").GetString());
            Assert.StartsWith("{", copied.GetProperty("State").GetProperty("Location").GetString());
        }
    }

    [Fact]
    public void A_log_call_with_a_value_the_JSON_formatter_cannot_write_does_not_throw_and_is_counted()
    {
        var builder = TestHosts.CreateBuilder(new Dictionary<string, string?>());
        builder.ConfigureBackupLogging();
        using var host = builder.Build();
        var logger = host.Services.GetRequiredService<ILogger<LoggingTests>>();

        // BsonDocument is IConvertible, and converting it to a string throws InvalidCastException.
        var unwritable = new BsonDocument("commit", "abc");
        var thrown = Record.Exception(() => LogCopied(logger, unwritable));

        Assert.Null(thrown);
        Assert.Equal(1, host.Services.GetRequiredService<LogWriteFailures>().Count);
        LogCopied(logger, "a plain value");
        Assert.Equal(1, host.Services.GetRequiredService<LogWriteFailures>().Count);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Copied to {Location}")]
    private static partial void LogCopied(ILogger logger, object location);
}

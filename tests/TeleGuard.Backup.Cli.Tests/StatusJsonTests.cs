using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using MongoDB.Bson;
using MongoDB.Bson.IO;
using TeleGuard.Backup.Destinations;
using TeleGuard.Backup.Destinations.GitHub;
using TeleGuard.Backup.Destinations.Telegram;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Cli.Tests;

/// <summary>
/// <c>status --json</c> shows each copy's location whole, as backups_meta holds it, and where it is in the words of the
/// destination that wrote it; a location no destination here can read (another destination, another version) is shown
/// as "recorded", never an error.
/// </summary>
public sealed class StatusJsonTests
{
    private static readonly DateTime At = new(2026, 11, 26, 4, 2, 0, DateTimeKind.Utc);

    private static readonly BsonDocument TelegramCopy = new()
    {
        { "chatId", "-1001234567890" }, { "archiveSize", 5_000L }, { "archiveSha256", new string('f', 64) }, { "partSize", 1_048_576L },
        { "partCount", 1 }, { "encrypted", false },
        { "parts", new BsonArray { new BsonDocument { { "index", 1 }, { "messageId", 101 }, { "fileId", "f" }, { "size", 5_000L }, { "sha256", new string('a', 64) }, { "sentAt", At } } } },
        { "gaps", new BsonArray() }, { "messageIds", new BsonArray { 101 } },
    };

    private static readonly IReadOnlyList<IBackupDestination> Destinations =
    [
        new GitHubDestination(Options.Create(new GitHubSinkOptions())),
        new TelegramDestination(Options.Create(new TelegramSinkOptions()), new ServiceCollection().BuildServiceProvider()),
    ];

    private static JsonNode Destination(BackupRecord record, string name) =>
        JsonNode.Parse(StatusJson.Render([record], null, null, [], Destinations))!["snapshots"]![0]!["destinations"]![name]!;

    [Fact]
    public void A_copy_is_described_by_its_destination_and_its_location_shown_as_stored()
    {
        var record = new BackupRecord
        {
            Id = "20261126T040000Z",
            Sinks = { [BackupSinks.Telegram] = new SinkRecord { Status = SinkStatus.Succeeded, At = At, LocationDocument = TelegramCopy } },
        };

        var telegram = Destination(record, BackupSinks.Telegram);

        Assert.Equal("1 of 1 parts as messages 101 in chat -1001234567890", telegram["where"]!.GetValue<string>());
        var shown = TelegramCopy.ToJson(new JsonWriterSettings { OutputMode = JsonOutputMode.RelaxedExtendedJson });
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(shown), telegram["location"]), telegram["location"]!.ToJsonString());
    }

    [Fact]
    public void A_location_of_another_shape_or_of_a_destination_not_known_here_is_recorded_and_still_shown()
    {
        var unreadable = new BsonDocument { { "commit", 42 }, { "branch", "backups" } };
        var elsewhere = new BsonDocument("url", "https://mirror.example/x");
        var record = new BackupRecord
        {
            Id = "20261126T040000Z",
            Sinks =
            {
                [BackupSinks.GitHub] = new SinkRecord { Status = SinkStatus.Succeeded, At = At, LocationDocument = unreadable },
                ["mirror"] = new SinkRecord { Status = SinkStatus.Succeeded, At = At, LocationDocument = elsewhere },
            },
        };

        var github = Destination(record, BackupSinks.GitHub);
        Assert.Equal("recorded", github["where"]!.GetValue<string>());
        Assert.Equal(42, github["location"]!["commit"]!.GetValue<int>());
        var mirror = Destination(record, "mirror");
        Assert.Equal("recorded", mirror["where"]!.GetValue<string>());
        Assert.Equal("https://mirror.example/x", mirror["location"]!["url"]!.GetValue<string>());
    }

    /// <summary>A snapshot that fell back from its snapshot session says so, and why, in <c>status --json</c> as in the text status.</summary>
    [Fact]
    public void A_snapshot_that_fell_back_to_consistency_none_shows_the_reason_and_one_that_did_not_shows_null()
    {
        const string why = "SnapshotTooOld while reading big after 312 s; the rest was read without the snapshot session";
        var fellBack = new BackupRecord { Id = "20261126T040000Z", Manifest = new ManifestSummary { Consistency = "none", ConsistencyReason = why } };
        var consistent = new BackupRecord { Id = "20261126T050000Z", Manifest = new ManifestSummary { Consistency = "snapshot" } };

        var snapshots = JsonNode.Parse(StatusJson.Render([fellBack, consistent], null, null, [], Destinations))!["snapshots"]!.AsArray();

        var first = snapshots.Single(s => s!["id"]!.GetValue<string>() == fellBack.Id)!;
        Assert.Equal(("none", why), (first["consistency"]!.GetValue<string>(), first["consistencyReason"]!.GetValue<string>()));
        var second = snapshots.Single(s => s!["id"]!.GetValue<string>() == consistent.Id)!;
        Assert.Equal("snapshot", second["consistency"]!.GetValue<string>());
        Assert.True(second.AsObject().ContainsKey("consistencyReason")); // present, and null
        Assert.Null(second["consistencyReason"]);
    }
}

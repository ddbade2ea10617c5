using System.Text.Json;
using System.Text.Json.Nodes;
using MongoDB.Bson;
using MongoDB.Bson.IO;
using TeleGuard.Backup.Destinations;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Cli;

/// <summary>
/// <c>status --json</c>: a stable shape for scripts and monitoring (README, "status --json"), built field by field, not a
/// dump of backups_meta's documents. New fields may be added; existing ones keep their names and meaning.
/// </summary>
public static class StatusJson
{
    public static string Render(IReadOnlyList<BackupRecord> records, string? lastComplete, TimeSpan? lastCompleteAge,
        IReadOnlyList<(string Sink, CleanupRecord Cleanup)> cleanups, IReadOnlyList<IBackupDestination> destinations, PointInTimeStatus? pointInTime = null)
    {
        var root = new JsonObject
        {
            ["lastComplete"] = lastComplete,
            ["lastCompleteAgeSeconds"] = lastCompleteAge is { } age ? Math.Round(age.TotalSeconds) : null,
            ["cleanups"] = new JsonObject(cleanups.Select(c => KeyValuePair.Create(c.Sink, (JsonNode?)new JsonObject
            {
                ["status"] = c.Cleanup.Status, ["at"] = Time(c.Cleanup.At), ["reason"] = c.Cleanup.Reason,
            }))),
            ["snapshots"] = new JsonArray(records.Select(r => Snapshot(r, destinations)).ToArray<JsonNode?>()),
            ["pointInTime"] = pointInTime?.ToJson(),
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    private static JsonObject Snapshot(BackupRecord record, IReadOnlyList<IBackupDestination> destinations) => new()
    {
        ["id"] = record.Id,
        ["status"] = record.Status,
        ["reason"] = record.Reason,
        ["requestedAt"] = Time(record.RequestedAt),
        ["createdAt"] = Time(record.CreatedAt),
        ["error"] = record.Error,
        ["documents"] = record.Manifest?.Documents,
        ["bytes"] = record.Manifest?.Bytes,
        ["consistency"] = record.Manifest?.Consistency,
        ["consistencyReason"] = record.Manifest?.ConsistencyReason,
        ["collections"] = record.Manifest is { } manifest ? new JsonArray(manifest.Collections.Select(c => (JsonNode)new JsonObject
        {
            ["name"] = c.Name, ["documents"] = c.Documents, ["bytes"] = c.Bytes, ["sha256"] = c.Sha256,
        }).ToArray()) : null,
        ["skipped"] = record.Manifest is { } withSkipped ? new JsonArray(withSkipped.Skipped.Select(s => (JsonNode)new JsonObject
        {
            ["name"] = s.Name, ["type"] = s.Type, ["reason"] = s.Reason,
        }).ToArray()) : null,
        ["artifact"] = record.Artifact is { } artifact ? new JsonObject
        {
            ["location"] = artifact.Location, ["size"] = artifact.Size, ["sha256"] = artifact.Sha256, ["removedAt"] = Time(artifact.DeletedAt),
        } : null,
        ["destinations"] = new JsonObject(BackupSinks.All.Concat(record.Sinks.Keys).Distinct().Order()
            .Select(name => KeyValuePair.Create(name, (JsonNode?)Destination(name, record.Sinks.GetValueOrDefault(name), destinations)))),
    };

    private static JsonObject Destination(string name, SinkRecord? sink, IReadOnlyList<IBackupDestination> destinations) => new()
    {
        ["status"] = sink?.Status ?? "pending",
        ["at"] = Time(sink?.At),
        ["attempts"] = sink?.Attempts ?? 0,
        ["error"] = sink?.Error,
        ["where"] = sink?.LocationDocument is not null ? StatusCommand.DescribeCopy(destinations, name, sink) : null,
        ["location"] = sink?.LocationDocument is { } raw ? JsonNode.Parse(raw.ToJson(new JsonWriterSettings { OutputMode = JsonOutputMode.RelaxedExtendedJson })) : null,
        ["removedAt"] = Time(sink?.RemovedAt),
    };

    private static string? Time(DateTime? value) => value?.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture);
}

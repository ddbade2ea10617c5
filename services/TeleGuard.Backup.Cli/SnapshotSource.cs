using System.CommandLine;
using System.Globalization;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Cli;

/// <summary>
/// Where <c>restore</c> and <c>verify</c> read a snapshot: a destination's name or <c>file</c>, the file's path, and the
/// snapshot id or <c>latest</c>; or, with <paramref name="ToTime"/>, the time to restore to (a snapshot and the
/// increments after it, chosen by the destination).
/// </summary>
/// <param name="ToTime">Null without <c>--to-time</c>; else the time (<see cref="LatestTime"/>: the end of the history).</param>
public sealed record SnapshotSource(string From, string? Path, string Snapshot, PointInTimeTarget? ToTime = null)
{
    public const string LatestTime = "latest";

    // For help and tab completion; which destinations exist is decided by those registered (an unknown name is refused then).
    private static readonly string[] Sources = ["github", "public", "telegram", "store", "file"];

    /// <summary>Adds <c>--from</c>, <c>--path</c> and <c>--snapshot</c> to <paramref name="command"/>; returns how to read them.</summary>
    public static Func<ParseResult, SnapshotSource> AddOptions(Command command)
    {
        var from = new Option<string>("--from")
        {
            Description = "where to read the snapshot: a destination (github, public, telegram, store) or file",
            HelpName = string.Join('|', Sources),
            Required = true,
        };
        from.CompletionSources.Add(Sources);
        var path = new Option<string?>("--path") { Description = "with --from file: an artifact (.tar, or gzip-compressed as the store holds it) or a snapshot folder", HelpName = "P" };
        var snapshot = new Option<string>("--snapshot") { Description = "the snapshot id, or latest", HelpName = "ID|latest", DefaultValueFactory = _ => "latest" };
        var toTime = ToTimeOption(
            "restore to this time instead of a snapshot: UTC as 2026-11-30T13:42:10Z (every change of that second included), or latest (the end of the recorded history); needs a destination that holds increments (store, github, public, telegram)");
        command.Options.Add(from);
        command.Options.Add(path);
        command.Options.Add(snapshot);
        command.Options.Add(toTime);
        command.Validators.Add(result =>
        {
            if (result.GetValue(from) == "file" && result.GetValue(path) is null)
            {
                result.AddError("--from file needs --path (an artifact .tar or .tar.gz, or a snapshot folder)");
            }

            if (result.GetResult(toTime) is not null && result.GetResult(snapshot) is { Implicit: false })
            {
                result.AddError("--to-time and --snapshot cannot be used together: --to-time chooses the snapshot");
            }

            if (result.GetResult(toTime) is not null && result.GetValue(from) == "file")
            {
                result.AddError("--to-time needs the increments a destination holds (--from store), not a file");
            }
        });
        return result => new SnapshotSource(result.GetRequiredValue(from), result.GetValue(path), result.GetRequiredValue(snapshot), result.GetValue(toTime));
    }

    /// <summary><c>--to-time TIME|latest</c>, parsed with <see cref="ParseToTime"/>.</summary>
    public static Option<PointInTimeTarget?> ToTimeOption(string description) => new("--to-time")
    {
        Description = description,
        HelpName = "TIME|latest",
        CustomParser = result =>
        {
            var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
            if (ParseToTime(text) is { } target)
            {
                return target;
            }

            result.AddError("--to-time must be a UTC time like 2026-11-30T13:42:10Z, or latest");
            return null;
        },
    };

    /// <summary><c>latest</c> or <c>yyyy-MM-ddTHH:mm:ssZ</c> (UTC, whole seconds); null for anything else.</summary>
    public static PointInTimeTarget? ParseToTime(string text)
    {
        if (text == LatestTime)
        {
            return new PointInTimeTarget(null);
        }

        return DateTimeOffset.TryParseExact(text, "yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time)
            && time.ToUnixTimeSeconds() is >= 0 and <= uint.MaxValue
            ? new PointInTimeTarget(ClusterTimestamps.EndOfSecond(time))
            : null;
    }
}

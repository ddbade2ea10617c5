using System.CommandLine;

namespace TeleGuard.Backup.Cli;

/// <summary>
/// Where <c>restore</c> and <c>verify</c> read a snapshot: a destination's name or <c>file</c>, the file's path, and the
/// snapshot id or <c>latest</c>.
/// </summary>
public sealed record SnapshotSource(string From, string? Path, string Snapshot)
{
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
        var path = new Option<string?>("--path") { Description = "with --from file: an artifact .tar or a snapshot folder", HelpName = "P" };
        var snapshot = new Option<string>("--snapshot") { Description = "the snapshot id, or latest", HelpName = "ID|latest", DefaultValueFactory = _ => "latest" };
        command.Options.Add(from);
        command.Options.Add(path);
        command.Options.Add(snapshot);
        command.Validators.Add(result =>
        {
            if (result.GetValue(from) == "file" && result.GetValue(path) is null)
            {
                result.AddError("--from file needs --path (an artifact .tar or a snapshot folder)");
            }
        });
        return result => new SnapshotSource(result.GetRequiredValue(from), result.GetValue(path), result.GetRequiredValue(snapshot));
    }
}

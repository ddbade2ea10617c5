using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Git;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations.GitHub;

/// <summary>
/// Reads a snapshot back from the private repository: the <c>snapshot/</c> folder of the commit holding it, or for
/// <c>latest</c> of the newest snapshot commit (the branch is kept in data order, so it holds the newest data). It also
/// holds the increments (<c>increments/BASE/ID.json</c> and <c>.jsonl</c> in the head's tree), so it can restore to a time.
/// </summary>
public sealed class GitHubDestination(IOptions<GitHubSinkOptions> options) : IBackupDestination, IPointInTimeSource
{
    /// <summary>Longest snapshot manifest read from the branch to choose a snapshot (it lists every part).</summary>
    private const long MaxSnapshotManifestBytes = 16 * 1024 * 1024;

    public string Name => BackupSinks.GitHub;

    public bool IsEnabled => options.Value.Enabled;

    public string EnabledBy => $"{GitHubSinkOptions.RepositoryVariable} and {GitHubSinkOptions.TokenVariable}";

    public bool ReadsBackupsMeta => false;

    private GitRemote Remote => options.Value.Remote ?? throw new InvalidOperationException($"--from {Name} needs {EnabledBy}.");

    public string DescribeCopy(SinkRecord copy) => copy.LocationAs<GitHubLocation>() is { } location
        ? CopyDescription.Join(CopyDescription.Commit(location.Commit, location.Branch, location.Repository))
        : CopyDescription.Join();

    public async Task<SnapshotManifest> FetchAsync(string snapshot, string folder, CancellationToken cancellationToken)
    {
        var remote = Remote;
        var scratch = folder + ".git";
        string? found;
        try
        {
            found = new GitBranchWriter(remote, scratch, NullLogger.Instance).ExportTree(snapshot == "latest" ? null : snapshot, RepositoryLayout.Folder, folder);
        }
        finally
        {
            FetchedCopy.DeleteScratch(scratch);
        }

        if (found is null)
        {
            throw new InvalidOperationException($"Snapshot {snapshot} is not on {remote}.");
        }

        return FetchedCopy.EnsureHolds(await SnapshotArchive.VerifyDirectoryAsync(folder, cancellationToken), found, folder, $"the commit on {remote}");
    }

    /// <summary>
    /// Chooses from what the branch holds (every snapshot commit's manifest, the head's increments), then fetches and
    /// checks the chosen snapshot and the run of increments. Everything read from the branch is untrusted: each
    /// increment manifest is parsed and must be filed under its own id and base snapshot, and the chosen increments'
    /// events and chain are checked (<see cref="IncrementChain.CheckAsync"/>) before anything is returned.
    /// </summary>
    public async Task<PointInTimeCopy> FetchToTimeAsync(ClusterTimestamp? target, string folder, CancellationToken cancellationToken)
    {
        var remote = Remote;
        var incrementsFolder = Path.Combine(folder, "increments");
        var scratch = folder + ".git";
        IReadOnlyList<(string SnapshotId, byte[]? Content)> snapshotManifests;
        try
        {
            var writer = new GitBranchWriter(remote, scratch, NullLogger.Instance);
            snapshotManifests = writer.ReadFileOfEachSnapshot($"{RepositoryLayout.Folder}/{SnapshotManifest.FileName}", MaxSnapshotManifestBytes);
            if (!writer.ExportHeadTree(RepositoryLayout.IncrementsFolder, incrementsFolder))
            {
                Directory.CreateDirectory(incrementsFolder);
            }
        }
        finally
        {
            FetchedCopy.DeleteScratch(scratch);
        }

        var starts = new List<(SnapshotStart Start, string Database)>();
        foreach (var (snapshotId, content) in snapshotManifests)
        {
            // A manifest that does not parse or was not read at one cluster time starts no history; the chosen one is checked whole below.
            if (content is not null && TryParse(content) is { Consistency: { Mode: SnapshotConsistency.Snapshot, ClusterTime: { } clusterTime } } manifest
                && manifest.SnapshotId == snapshotId)
            {
                starts.Add((new SnapshotStart(snapshotId, clusterTime), manifest.Source.Database));
            }
        }

        var database = starts.Count > 0 ? starts[0].Database : "(no snapshot on the branch)";
        var onBranch = await ReadIncrementsAsync(incrementsFolder, remote, cancellationToken);
        var ofDatabase = onBranch.Where(i => i.Manifest.Database == database).ToList();
        var (snapshot, chosen, time) = PointInTimePlanner.Choose(
            starts.Where(s => s.Database == database).Select(s => s.Start).ToList(), ofDatabase.Select(i => IncrementLink.Of(i.Manifest)).ToList(), target, database);

        var snapshotFolder = Path.Combine(folder, "snapshot");
        var fetched = await FetchAsync(snapshot.SnapshotId, snapshotFolder, cancellationToken);
        var byId = ofDatabase.ToDictionary(i => i.Manifest.IncrementId, StringComparer.Ordinal);
        var pointInTime = new PointInTime(time, chosen.Select(l => byId[l.IncrementId]).ToList());
        return new PointInTimeCopy(fetched, snapshotFolder, pointInTime with { Increments = await IncrementChain.CheckAsync(fetched, pointInTime, cancellationToken) });
    }

    /// <summary>
    /// Every increment manifest under <paramref name="folder"/> (<c>BASE/ID.json</c>), parsed, beside its events file.
    /// One that does not parse, is filed under another id or base snapshot than it names, or has no events file is
    /// refused: the branch was written by something other than this sink.
    /// </summary>
    private static async Task<List<ExtractedIncrement>> ReadIncrementsAsync(string folder, GitRemote remote, CancellationToken cancellationToken)
    {
        var increments = new List<ExtractedIncrement>();
        foreach (var file in Directory.EnumerateFiles(folder, "*" + RepositoryLayout.ManifestExtension, SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var shown = $"{RepositoryLayout.IncrementsFolder}/{Path.GetRelativePath(folder, file).Replace(Path.DirectorySeparatorChar, '/')}";
            if (new FileInfo(file).Length > IncrementArchive.MaxManifestBytes)
            {
                throw new InvalidDataException($"{shown} on {remote} is over {IncrementArchive.MaxManifestBytes} bytes: not an increment manifest; refused.");
            }

            IncrementManifest manifest;
            try
            {
                manifest = IncrementManifest.Parse(await File.ReadAllBytesAsync(file, cancellationToken));
            }
            catch (InvalidDataException e)
            {
                throw new InvalidDataException($"{shown} on {remote}: {e.Message}", e);
            }

            var expected = RepositoryLayout.IncrementManifestPath(manifest.BaseSnapshotId, manifest.IncrementId);
            var events = Path.ChangeExtension(file, RepositoryLayout.EventsExtension);
            if (shown != expected)
            {
                throw new InvalidDataException($"{shown} on {remote} holds increment {manifest.IncrementId} of base snapshot {manifest.BaseSnapshotId}, which belongs at {expected}; refused.");
            }

            if (!File.Exists(events))
            {
                throw new InvalidDataException($"{shown} on {remote} has no events file beside it; refused.");
            }

            increments.Add(new ExtractedIncrement(manifest, events));
        }

        return increments;
    }

    private static SnapshotManifest? TryParse(byte[] content)
    {
        try
        {
            return SnapshotManifest.Parse(content);
        }
        catch (Exception e) when (e is InvalidDataException or System.Text.Json.JsonException)
        {
            return null;
        }
    }
}

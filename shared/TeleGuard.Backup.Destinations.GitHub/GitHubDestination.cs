using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Git;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations.GitHub;

/// <summary>
/// Reads a snapshot back from the private repository: the <c>snapshot/</c> folder of the commit holding it, or for
/// <c>latest</c> of the branch head (the branch is kept in data order, so the head is the newest data).
/// </summary>
public sealed class GitHubDestination(IOptions<GitHubSinkOptions> options) : IBackupDestination
{
    public string Name => BackupSinks.GitHub;

    public bool IsEnabled => options.Value.Enabled;

    public string EnabledBy => $"{GitHubSinkOptions.RepositoryVariable} and {GitHubSinkOptions.TokenVariable}";

    public bool ReadsBackupsMeta => false;

    public string DescribeCopy(SinkRecord copy) => copy.LocationAs<GitHubLocation>() is { } location
        ? CopyDescription.Join(CopyDescription.Commit(location.Commit, location.Branch, location.Repository))
        : CopyDescription.Join();

    public async Task<SnapshotManifest> FetchAsync(string snapshot, string folder, CancellationToken cancellationToken)
    {
        var remote = options.Value.Remote ?? throw new InvalidOperationException($"--from {Name} needs {EnabledBy}.");
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
}

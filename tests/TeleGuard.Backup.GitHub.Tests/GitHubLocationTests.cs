using Microsoft.Extensions.Options;
using MongoDB.Bson;
using TeleGuard.Backup.Destinations.GitHub;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.GitHub.Tests;

/// <summary>
/// The private repository's records in backups_meta, built by hand exactly as the publisher has written them, read into
/// <see cref="GitHubLocation"/> and <see cref="GitHubRemoval"/> and written back unchanged.
/// </summary>
public sealed class GitHubLocationTests
{
    private const string Repository = "https://git.example/owner/teleguard-backups.git";
    private const string Commit = "0123456789abcdef0123456789abcdef01234567";

    private static BsonDocument Pushed() => new() { { "repository", Repository }, { "branch", "backups" }, { "commit", Commit } };

    [Fact]
    public void A_pushed_and_a_compacted_copy_read_as_their_commit_and_write_back_unchanged()
    {
        var pushed = StoredShape.RoundTripLocation<GitHubLocation>(Pushed());
        Assert.Equal((Repository, "backups", Commit), (pushed.Repository, pushed.Branch, pushed.Commit));
        Assert.Null(pushed.CompactedAt);

        var compactedAt = new DateTime(2026, 11, 26, 8, 5, 0, 250, DateTimeKind.Utc);
        var compacted = Pushed();
        compacted.Add("compactedAt", compactedAt);
        Assert.Equal(compactedAt, StoredShape.RoundTripLocation<GitHubLocation>(compacted).CompactedAt);

        var destination = new GitHubDestination(Options.Create(new GitHubSinkOptions()));
        Assert.Equal($"commit 0123456789ab on branch backups of {Repository}", destination.DescribeCopy(new SinkRecord { LocationDocument = compacted }));
        // A record that names only its commit (the other elements are optional to readers).
        Assert.Equal("commit 0123abc on branch ? of the repository",
            destination.DescribeCopy(new SinkRecord { LocationDocument = new BsonDocument("commit", "0123abc") }));
    }

    [Fact]
    public void An_element_a_newer_version_adds_does_not_break_reading_and_is_kept_when_the_commit_moves()
    {
        var newer = Pushed();
        newer.Add("signedBy", new BsonDocument { { "key", "ssh-ed25519 AAAA" }, { "verified", true } });

        var location = new SinkRecord { LocationDocument = newer }.LocationAs<GitHubLocation>()!;
        Assert.Equal(Commit, location.Commit);

        location.Commit = "fedcba9876543210fedcba9876543210fedcba98"; // the branch was rewritten under it
        newer["commit"] = location.Commit;
        StoredShape.AssertSameElements(newer, location.ToBsonDocument());
    }

    [Fact]
    public void A_copy_found_missing_after_a_rewrite_reads_back_as_such()
    {
        var stored = new BsonDocument("missing", "not on the branch when checked after a rewrite");
        Assert.Equal("not on the branch when checked after a rewrite", StoredShape.RoundTripRemoval<GitHubRemoval>(stored).Missing);
    }
}

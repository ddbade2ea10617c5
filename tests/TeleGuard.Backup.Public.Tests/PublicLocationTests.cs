using Microsoft.Extensions.Options;
using MongoDB.Bson;
using TeleGuard.Backup.Destinations.Public;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Public.Tests;

/// <summary>
/// The public branch's record in backups_meta, built by hand exactly as the publisher has written it, read into
/// <see cref="PublicLocation"/> and written back unchanged.
/// </summary>
public sealed class PublicLocationTests
{
    private const string Repository = "https://git.example/owner/teleguard-public.git";

    private static BsonDocument Published() => new()
    {
        { "repository", Repository },
        { "branch", "public-snapshots" },
        { "commit", "89abcdef0123456789abcdef0123456789abcdef" },
        { "files", new BsonArray(Enumerable.Range(1, 4).Select(n => $"snapshots/20261126T040000Z.tgb.part{n:000}")) },
        { "size", 150_000_000L },
        { "sha256", new string('c', 64) },
        { "keyId", "fedcba9876543210" },
    };

    [Fact]
    public void A_published_copy_reads_as_its_commit_files_size_and_key_and_writes_back_unchanged()
    {
        var location = StoredShape.RoundTripLocation<PublicLocation>(Published());

        Assert.Equal((Repository, "public-snapshots", "89abcdef0123456789abcdef0123456789abcdef"), (location.Repository, location.Branch, location.Commit));
        Assert.Equal(4, location.Files.Count);
        Assert.Equal("snapshots/20261126T040000Z.tgb.part004", location.Files[3]);
        Assert.Equal(150_000_000L, location.Size);
        Assert.Equal(new string('c', 64), location.Sha256);
        Assert.Equal("fedcba9876543210", location.KeyId);

        Assert.Equal($"commit 89abcdef0123 on branch public-snapshots of {Repository}; "
                     + "files snapshots/20261126T040000Z.tgb.part001, snapshots/20261126T040000Z.tgb.part002, snapshots/20261126T040000Z.tgb.part003 and 1 more; "
                     + "150000000 bytes; encrypted with key fedcba9876543210",
            new PublicDestination(Options.Create(new PublicSinkOptions())).DescribeCopy(new SinkRecord { LocationDocument = Published() }));
    }

    [Fact]
    public void An_element_a_newer_version_adds_does_not_break_reading_and_is_written_back()
    {
        var newer = Published();
        newer.Add("mirrors", new BsonArray { "https://mirror.example/teleguard-public.git" });

        var location = new SinkRecord { LocationDocument = newer }.LocationAs<PublicLocation>()!;

        Assert.Equal("fedcba9876543210", location.KeyId);
        StoredShape.AssertSameElements(newer, location.ToBsonDocument());
    }
}

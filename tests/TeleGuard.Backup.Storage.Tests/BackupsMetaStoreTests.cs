using Microsoft.Extensions.Time.Testing;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.Snapshots;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Storage.Tests;

public sealed class BackupsMetaStoreTests
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 26, 4, 0, 0, TimeSpan.Zero));

    private async Task<(BackupsMetaStore Store, IMongoCollection<BsonDocument> Raw)> CreateAsync(IReadOnlyList<string>? sinks = null)
    {
        var uri = await TestServices.MongoUriAsync();
        var database = new MongoClient(uri).GetDatabase(MongoUrl.Create(uri).DatabaseName);
        return (new BackupsMetaStore(database, _time, sinks ?? []), database.GetCollection<BsonDocument>(BackupsMetaStore.CollectionName));
    }

    private static SnapshotManifest Manifest(string id) => new()
    {
        SnapshotId = id,
        StartedAt = DateTimeOffset.UnixEpoch,
        FinishedAt = DateTimeOffset.UnixEpoch,
        Source = new SnapshotSource("db", ["h:1"], null),
        Consistency = new SnapshotConsistency(SnapshotConsistency.None, null),
        Collections = [new CollectionEntry("users", "collection", "collections/users", 3, 30, "abc", new FileEntry("m", 1, "x"), [])],
    };

    private static readonly ArtifactRecord Artifact = new() { Location = "dir:x.tar", Size = 10, Sha256 = "00" };

    [Fact]
    public async Task Requesting_the_same_snapshot_twice_keeps_one_document_with_the_first_request()
    {
        var (store, raw) = await CreateAsync();
        await store.RecordRequestedAsync("20261126T040000Z", _time.GetUtcNow(), "schedule", None);
        await store.RecordRequestedAsync("20261126T040000Z", _time.GetUtcNow().AddMinutes(5), "manual", None);

        Assert.Equal(1, await raw.CountDocumentsAsync(FilterDefinition<BsonDocument>.Empty, cancellationToken: None));
        var record = await store.GetAsync("20261126T040000Z", None);
        Assert.Equal("schedule", record!.Reason);
        Assert.Equal(BackupStatus.Requested, record.Status);
    }

    [Fact]
    public async Task Only_one_exporter_holds_the_lease_until_it_expires()
    {
        var (store, _) = await CreateAsync();
        const string id = "20261126T040000Z";
        await store.RecordRequestedAsync(id, _time.GetUtcNow(), "schedule", None);

        Assert.Equal(ExportClaim.Acquired, (await store.TryClaimExportAsync(id, "a", TimeSpan.FromSeconds(30), None)).Claim);
        Assert.Equal(ExportClaim.HeldElsewhere, (await store.TryClaimExportAsync(id, "b", TimeSpan.FromSeconds(30), None)).Claim);
        Assert.Equal(ExportClaim.Acquired, (await store.TryClaimExportAsync(id, "a", TimeSpan.FromSeconds(30), None)).Claim);

        _time.Advance(TimeSpan.FromSeconds(31)); // "a" died: its lease runs out
        var takeover = await store.TryClaimExportAsync(id, "b", TimeSpan.FromSeconds(30), None);
        Assert.Equal(ExportClaim.Acquired, takeover.Claim);
        Assert.Equal(3, takeover.Record!.Export!.Attempts);

        // The old holder can neither renew nor record its artifact any more.
        Assert.False(await store.RenewExportLeaseAsync(id, "a", TimeSpan.FromSeconds(30), None));
        Assert.False(await store.MarkCreatedAsync(id, "a", Artifact, Manifest(id), None));
        Assert.True(await store.MarkCreatedAsync(id, "b", Artifact, Manifest(id), None));
        Assert.Equal(ExportClaim.AlreadyCreated, (await store.TryClaimExportAsync(id, "c", TimeSpan.FromSeconds(30), None)).Claim);
    }

    [Fact]
    public async Task A_failed_attempt_that_will_be_retried_returns_to_requested_and_the_last_one_is_failed()
    {
        var (store, _) = await CreateAsync();
        const string id = "20261126T040000Z";
        await store.RecordRequestedAsync(id, _time.GetUtcNow(), "schedule", None);
        await store.TryClaimExportAsync(id, "a", TimeSpan.FromSeconds(30), None);
        await store.MarkExportFailedAsync(id, "a", "IOException: disk full", finalAttempt: false, None);
        var retrying = await store.GetAsync(id, None);
        Assert.Equal(BackupStatus.Requested, retrying!.Status);
        Assert.Equal("IOException: disk full", retrying.Error);

        Assert.Equal(ExportClaim.Acquired, (await store.TryClaimExportAsync(id, "b", TimeSpan.FromSeconds(30), None)).Claim);
        await store.MarkExportFailedAsync(id, "b", "IOException: disk full", finalAttempt: true, None);
        Assert.Equal(BackupStatus.Failed, (await store.GetAsync(id, None))!.Status);
    }

    [Fact]
    public async Task With_no_sinks_a_created_snapshot_is_complete_with_its_manifest_summary()
    {
        var (store, _) = await CreateAsync(sinks: []);
        const string id = "20261126T040000Z";
        await store.RecordRequestedAsync(id, _time.GetUtcNow(), "schedule", None);
        await store.TryClaimExportAsync(id, "a", TimeSpan.FromSeconds(30), None);
        await store.MarkCreatedAsync(id, "a", Artifact, Manifest(id), None);

        var record = await store.GetAsync(id, None);
        Assert.Equal(BackupStatus.Complete, record!.Status);
        Assert.Equal(3, record.Manifest!.Documents);
        Assert.Equal("users", Assert.Single(record.Manifest.Collections).Name);
        Assert.Equal("dir:x.tar", record.Artifact!.Location);
    }

    [Fact]
    public async Task Sink_outcomes_decide_complete_degraded_or_failed_and_a_success_is_never_overwritten()
    {
        var (store, _) = await CreateAsync(sinks: ["github", "telegram"]);
        const string id = "20261126T040000Z";
        await store.RecordRequestedAsync(id, _time.GetUtcNow(), "schedule", None);
        await store.TryClaimExportAsync(id, "a", TimeSpan.FromSeconds(30), None);
        await store.MarkCreatedAsync(id, "a", Artifact, Manifest(id), None);
        Assert.Equal(BackupStatus.Created, (await store.GetAsync(id, None))!.Status);

        Assert.Equal(SinkClaim.Acquired, await store.TryClaimSinkAsync(id, "github", "a", Lease, None));
        await store.RecordSinkOutcomeAsync(id, "github", SinkStatus.Succeeded, null, new BsonDocument("commit", "abc"), None);
        Assert.Equal(BackupStatus.Created, (await store.GetAsync(id, None))!.Status);

        Assert.Equal(SinkClaim.Acquired, await store.TryClaimSinkAsync(id, "telegram", "a", Lease, None));
        Assert.Equal(SinkClaim.HeldElsewhere, await store.TryClaimSinkAsync(id, "telegram", "b", Lease, None)); // a's lease runs
        Assert.Equal(SinkClaim.Acquired, await store.TryClaimSinkAsync(id, "telegram", "a", Lease, None)); // a's own retry
        await store.RecordSinkOutcomeAsync(id, "telegram", SinkStatus.Failed, "401 Unauthorized", null, None);
        var degraded = await store.GetAsync(id, None);
        Assert.Equal(BackupStatus.Degraded, degraded!.Status);
        Assert.Equal(2, degraded.Sinks["telegram"].Attempts);
        Assert.Equal("401 Unauthorized", degraded.Sinks["telegram"].Error);

        // A redelivered message that fails after the success must not erase it.
        Assert.Equal(SinkClaim.AlreadySucceeded, await store.TryClaimSinkAsync(id, "github", "b", Lease, None));
        await store.RecordSinkOutcomeAsync(id, "github", SinkStatus.Failed, "late failure", null, None);
        var record = await store.GetAsync(id, None);
        Assert.Equal(SinkStatus.Succeeded, record!.Sinks["github"].Status);
        Assert.Equal("abc", record.Sinks["github"].Location!["commit"].AsString);

        await store.RecordSinkOutcomeAsync(id, "telegram", SinkStatus.Succeeded, null, new BsonDocument("messages", new BsonArray { 1, 2 }), None);
        record = await store.GetAsync(id, None);
        Assert.Equal(BackupStatus.Complete, record!.Status);
        Assert.Null(record.Sinks["telegram"].Error);
    }

    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_sink_lease_is_taken_over_only_after_it_expires_and_ends_with_the_outcome()
    {
        var (store, _) = await CreateAsync(sinks: ["telegram"]);
        const string id = "20261126T050000Z";
        Assert.Equal(SinkClaim.NoRecord, await store.TryClaimSinkAsync(id, "telegram", "a", Lease, None));
        await store.RecordRequestedAsync(id, _time.GetUtcNow(), "schedule", None);
        Assert.Equal(SinkClaim.Acquired, await store.TryClaimSinkAsync(id, "telegram", "a", Lease, None));
        Assert.Equal(SinkClaim.HeldElsewhere, await store.TryClaimSinkAsync(id, "telegram", "b", Lease, None));
        _time.Advance(TimeSpan.FromSeconds(20));
        Assert.True(await store.RenewSinkLeaseAsync(id, "telegram", "a", Lease, None));
        _time.Advance(TimeSpan.FromSeconds(20));
        Assert.Equal(SinkClaim.HeldElsewhere, await store.TryClaimSinkAsync(id, "telegram", "b", Lease, None)); // renewed
        _time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(SinkClaim.Acquired, await store.TryClaimSinkAsync(id, "telegram", "b", Lease, None)); // a died
        Assert.False(await store.RenewSinkLeaseAsync(id, "telegram", "a", Lease, None));
        await store.RecordSinkErrorAsync(id, "telegram", "timeout", None);
        Assert.Equal(SinkClaim.Acquired, await store.TryClaimSinkAsync(id, "telegram", "c", Lease, None)); // the error ended b's lease
        Assert.Equal(3, (await store.GetAsync(id, None))!.Sinks["telegram"].Attempts);
    }

    [Fact]
    public async Task Skipped_sinks_count_as_done_and_all_failed_is_failed()
    {
        var (store, _) = await CreateAsync(sinks: ["github", "telegram"]);
        foreach (var (id, second) in new[] { ("20261126T040000Z", SinkStatus.Skipped), ("20261126T050000Z", SinkStatus.Failed) })
        {
            await store.RecordRequestedAsync(id, _time.GetUtcNow(), "schedule", None);
            await store.TryClaimExportAsync(id, "a", TimeSpan.FromSeconds(30), None);
            await store.MarkCreatedAsync(id, "a", Artifact, Manifest(id), None);
            await store.RecordSinkOutcomeAsync(id, "github", second == SinkStatus.Skipped ? SinkStatus.Succeeded : SinkStatus.Failed, null, null, None);
            await store.RecordSinkOutcomeAsync(id, "telegram", second, null, null, None);
        }

        Assert.Equal(BackupStatus.Complete, (await store.GetAsync("20261126T040000Z", None))!.Status);
        Assert.Equal(BackupStatus.Failed, (await store.GetAsync("20261126T050000Z", None))!.Status);
        Assert.Equal("20261126T040000Z", (await store.FindLatestCompleteAsync(None))!.Id);
        Assert.Equal(["20261126T050000Z", "20261126T040000Z"], (await store.ListRecentAsync(10, None)).Select(r => r.Id));
    }
}

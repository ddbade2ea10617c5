using Microsoft.Extensions.Time.Testing;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.SnapshotFormat;
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
    public async Task The_exports_to_run_are_the_accepted_the_retried_and_the_abandoned_ones_oldest_first_and_nothing_else()
    {
        var (store, _) = await CreateAsync();
        var lease = TimeSpan.FromSeconds(30);
        const string announcedOnly = "20261126T010000Z", older = "20261126T020000Z", id = "20261126T030000Z";

        // A requested record no snapshot service accepted (a scheduler's before its publish, a sink's of an announcement).
        await store.RecordRequestedAsync(announcedOnly, _time.GetUtcNow(), "announced", None);
        Assert.Null(await store.FindExportToRunAsync(None));

        await store.RecordRequestedAsync(id, _time.GetUtcNow(), "schedule", None);
        Assert.True(await store.MarkExportQueuedAsync(id, None));
        Assert.Equal(id, (await store.FindExportToRunAsync(None))?.Id);

        // Held under a live lease: not to run; once the lease expired (its exporter died), to run again.
        Assert.Equal(ExportClaim.Acquired, (await store.TryClaimExportAsync(id, "a", lease, None)).Claim);
        Assert.False(await store.MarkExportQueuedAsync(id, None)); // a second request changes nothing
        Assert.Null(await store.FindExportToRunAsync(None));
        _time.Advance(lease + TimeSpan.FromSeconds(1));
        Assert.Equal(id, (await store.FindExportToRunAsync(None))?.Id);

        // Given back at a stop: to run at once, the stopped attempt not counted.
        Assert.Equal(ExportClaim.Acquired, (await store.TryClaimExportAsync(id, "b", lease, None)).Claim);
        Assert.False(await store.ReleaseExportAsync(id, "a", None)); // only the holder gives it back
        Assert.True(await store.ReleaseExportAsync(id, "b", None));
        var released = (await store.GetAsync(id, None))!;
        Assert.Equal(BackupStatus.Requested, released.Status);
        Assert.Equal(1, released.Export!.Attempts);
        Assert.Equal(id, (await store.FindExportToRunAsync(None))?.Id);

        // Oldest first.
        await store.RecordRequestedAsync(older, _time.GetUtcNow(), "catch-up", None);
        Assert.True(await store.MarkExportQueuedAsync(older, None));
        Assert.Equal(older, (await store.FindExportToRunAsync(None))?.Id);

        // Concluded exports are never to run.
        await store.TryClaimExportAsync(older, "c", lease, None);
        await store.MarkExportFailedAsync(older, "c", "IOException: disk full", finalAttempt: true, None);
        await store.TryClaimExportAsync(id, "c", lease, None);
        Assert.True(await store.MarkCreatedAsync(id, "c", Artifact, Manifest(id), None));
        Assert.Null(await store.FindExportToRunAsync(None));
    }

    [Fact]
    public async Task A_sweep_passes_over_a_record_it_cannot_take_and_a_one_shot_runner_sees_only_its_own()
    {
        var (store, _) = await CreateAsync();
        const string first = "20261126T010000Z", second = "20261126T020000Z";
        foreach (var id in new[] { first, second })
        {
            await store.RecordRequestedAsync(id, _time.GetUtcNow(), "schedule", None);
            Assert.True(await store.MarkExportQueuedAsync(id, None));
        }

        Assert.Equal(first, (await store.FindExportToRunAsync(null, null, None))?.Id);
        Assert.Equal(second, (await store.FindExportToRunAsync(null, after: first, None))?.Id);
        Assert.Null(await store.FindExportToRunAsync(null, after: second, None));
        Assert.Equal(second, (await store.FindExportToRunAsync([second], null, None))?.Id);
        Assert.Null(await store.FindExportToRunAsync([], null, None));
    }

    [Fact]
    public async Task A_late_announcement_is_claimed_by_one_runner_at_a_time_and_claimable_again_until_it_is_marked_announced()
    {
        var (store, _) = await CreateAsync([BackupSinks.GitHub]); // a destination that has not copied it: it stays created
        var lease = TimeSpan.FromSeconds(30);
        const string id = "20261126T030000Z";
        await store.RecordRequestedAsync(id, _time.GetUtcNow(), "schedule", None);
        Assert.True(await store.MarkExportQueuedAsync(id, None));
        await store.TryClaimExportAsync(id, "a", lease, None);
        Assert.True(await store.MarkCreatedAsync(id, "a", Artifact, Manifest(id), None));

        Assert.Null(await store.TryClaimUnannouncedAsync(lease, None)); // its exporter still has a lease to announce it
        _time.Advance(lease + TimeSpan.FromSeconds(1));
        Assert.Equal(id, (await store.TryClaimUnannouncedAsync(lease, None))?.Id);
        Assert.Null(await store.TryClaimUnannouncedAsync(lease, None)); // claimed: not a second announcer at once

        // The claimant died before publishing (or its publish failed): once its claim ran out, the next one announces it.
        _time.Advance(lease + TimeSpan.FromSeconds(1));
        Assert.Equal(id, (await store.TryClaimUnannouncedAsync(lease, None))?.Id);
        await store.MarkAnnouncedAsync(id, None);
        _time.Advance(lease + TimeSpan.FromSeconds(1));
        Assert.Null(await store.TryClaimUnannouncedAsync(lease, None));
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
    public async Task A_concluded_export_is_never_claimed_again_with_an_artifact_it_is_already_created_without_one_it_is_refused()
    {
        var (store, _) = await CreateAsync(sinks: ["telegram"]);
        const string withArtifact = "20261126T040000Z", withoutArtifact = "20261126T050000Z";
        foreach (var id in new[] { withArtifact, withoutArtifact })
        {
            await store.RecordRequestedAsync(id, _time.GetUtcNow(), "schedule", None);
            await store.TryClaimExportAsync(id, "a", Lease, None);
        }

        await store.MarkCreatedAsync(withArtifact, "a", Artifact, Manifest(withArtifact), None);
        await store.RecordSinkOutcomeAsync(withArtifact, "telegram", SinkStatus.Failed, "down", null, None);
        await store.MarkExportFailedAsync(withoutArtifact, "a", "unreachable", finalAttempt: true, None);
        Assert.Equal(BackupStatus.Failed, (await store.GetAsync(withArtifact, None))!.Status);

        var (claim, record) = await store.TryClaimExportAsync(withArtifact, "b", Lease, None);
        Assert.Equal(ExportClaim.AlreadyCreated, claim);
        Assert.Equal(1, record!.Export!.Attempts);
        Assert.Equal(ExportClaim.Refused, (await store.TryClaimExportAsync(withoutArtifact, "b", Lease, None)).Claim);
        Assert.Equal(1, (await store.GetAsync(withoutArtifact, None))!.Export!.Attempts);

        // Announced again, the failed snapshot is created until its sinks decide anew; one without an artifact is not.
        Assert.True(await store.MarkReannouncedAsync(withArtifact, None));
        Assert.Equal(BackupStatus.Created, (await store.GetAsync(withArtifact, None))!.Status);
        Assert.False(await store.MarkReannouncedAsync(withoutArtifact, None));
        await store.RecordSinkOutcomeAsync(withArtifact, "telegram", SinkStatus.Succeeded, null, new ExampleLocation { Commit = "m" }, None);
        Assert.Equal(BackupStatus.Complete, (await store.GetAsync(withArtifact, None))!.Status);
    }

    [Fact]
    public async Task Retention_takes_only_finished_copies_no_instance_holds_and_a_later_attempt_never_reuses_a_removed_copy()
    {
        var (store, _) = await CreateAsync(sinks: ["telegram"]);
        const string id = "20261126T040000Z";
        var cutoff = SnapshotIds.FromTime(_time.GetUtcNow().AddHours(1));
        await store.RecordRequestedAsync(id, _time.GetUtcNow(), "schedule", None);
        Assert.Equal(SinkClaim.Acquired, await store.TryClaimSinkAsync(id, "telegram", "uploader", Lease, None));
        Assert.True(await store.UpdateSinkProgressAsync(id, "telegram", "uploader", new ExampleLocation { Parts = [101] }, None));

        // Being uploaded, even past its lease (its holder may be stalled, a retry will take it over): not retention's.
        _time.Advance(TimeSpan.FromMinutes(5));
        Assert.Empty(await store.ListSinkCopiesBeforeAsync("telegram", cutoff, None));
        Assert.False(await store.TryLeaseSinkCopyForRemovalAsync(id, "telegram", "cleanup", Lease, None));
        await store.MarkSinkCopyRemovedAsync(id, "telegram", None);
        Assert.Null((await store.GetAsync(id, None))!.Sinks["telegram"].RemovedAt);
        Assert.Equal([id], (await store.ListSinkCopiesInProgressAsync("telegram", None)).Select(r => r.Id));
        Assert.Empty(await store.ListSinkCopiesHeldAsync("telegram", None)); // its lease ran out

        // Failed for good: retention may take it, and while it deletes, no attempt can start on it.
        await store.RecordSinkOutcomeAsync(id, "telegram", SinkStatus.Failed, "flood control", null, None);
        Assert.Equal([id], (await store.ListSinkCopiesBeforeAsync("telegram", cutoff, None)).Select(r => r.Id));
        Assert.True(await store.TryLeaseSinkCopyForRemovalAsync(id, "telegram", "cleanup", Lease, None));
        Assert.False(await store.TryLeaseSinkCopyForRemovalAsync(id, "telegram", "another-cleanup", Lease, None));
        Assert.Equal(SinkClaim.HeldElsewhere, await store.TryClaimSinkAsync(id, "telegram", "retry", Lease, None));
        await store.RecordSinkRemovalAsync(id, "telegram", new ExampleRemoval { DeletedMessageIds = [101] }, None);
        Assert.Empty(await store.ListSinkCopiesBeforeAsync("telegram", cutoff, None));

        // The retry that comes afterwards starts a new copy: the removed parts are not in its record any more.
        Assert.Equal(SinkClaim.Acquired, await store.TryClaimSinkAsync(id, "telegram", "retry", Lease, None));
        var copy = (await store.GetAsync(id, None))!.Sinks["telegram"];
        Assert.Null(copy.LocationDocument);
        Assert.Null(copy.RemovedAt);
    }

    [Fact]
    public async Task Progress_of_a_copy_is_recorded_only_by_the_attempt_that_holds_its_lease()
    {
        var (store, _) = await CreateAsync(sinks: ["telegram"]);
        const string id = "20261126T040000Z";
        await store.RecordRequestedAsync(id, _time.GetUtcNow(), "schedule", None);
        await store.TryClaimSinkAsync(id, "telegram", "a", Lease, None);
        Assert.True(await store.UpdateSinkProgressAsync(id, "telegram", "a", new ExampleLocation { Parts = [1] }, None));

        _time.Advance(TimeSpan.FromSeconds(31)); // a stalls; b takes over
        Assert.Equal(SinkClaim.Acquired, await store.TryClaimSinkAsync(id, "telegram", "b", Lease, None));
        Assert.False(await store.UpdateSinkProgressAsync(id, "telegram", "a", new ExampleLocation { Parts = [1, 2] }, None));
        Assert.Equal([1], (await store.GetAsync(id, None))!.Sinks["telegram"].LocationAs<ExampleLocation>()!.Parts!);

        await store.RecordSinkOrphansAsync(id, "telegram", [2], None);
        await store.RecordSinkOrphansAsync(id, "telegram", [2, 3], None);
        Assert.Equal([2, 3], (await store.GetAsync(id, None))!.Sinks["telegram"].OrphanMessageIds!);
    }

    /// <summary>
    /// A snapshot read at no cluster time is never taken for one read at a cluster time (a chain of increments would start
    /// from it): not as written now (no clusterTime field) nor as earlier versions wrote its null ({_csharpnull: true}).
    /// </summary>
    [Fact]
    public async Task Only_snapshots_read_at_a_cluster_time_are_found_as_such_also_beside_nulls_written_by_earlier_versions()
    {
        var (store, raw) = await CreateAsync();
        async Task CreatedAsync(string id, SnapshotConsistency consistency)
        {
            await store.RecordRequestedAsync(id, _time.GetUtcNow(), "schedule", None);
            await store.TryClaimExportAsync(id, "a", TimeSpan.FromSeconds(30), None);
            Assert.True(await store.MarkCreatedAsync(id, "a", Artifact, Manifest(id) with { Consistency = consistency }, None));
        }

        var fellBack = new SnapshotConsistency(SnapshotConsistency.None, null, "SnapshotTooOld while reading users");
        await CreatedAsync("20261126T020000Z", fellBack);
        await CreatedAsync("20261126T030000Z", fellBack);
        await raw.UpdateOneAsync(new BsonDocument("_id", "20261126T030000Z"),
            new BsonDocument("$set", new BsonDocument("manifest.clusterTime", new BsonDocument("_csharpnull", true))));

        // Only such snapshots (a recorder's first start after exports that outlasted the snapshot window): none is a base.
        Assert.Null(await store.FindNewestWithClusterTimeAsync(null, null, None));
        Assert.Null(await store.FindOldestStoredWithClusterTimeAsync(None));

        await CreatedAsync("20261126T010000Z", new SnapshotConsistency(SnapshotConsistency.Snapshot, new ClusterTimestamp(1000, 1)));
        var written = await raw.Find(new BsonDocument("_id", "20261126T020000Z")).SingleAsync();
        Assert.False(written["manifest"].AsBsonDocument.Contains("clusterTime"));
        Assert.Equal("20261126T010000Z", (await store.FindNewestWithClusterTimeAsync(null, null, None))?.Id);
        Assert.Equal("20261126T010000Z", (await store.FindOldestStoredWithClusterTimeAsync(None))?.Id);
        Assert.Null((await store.GetAsync("20261126T030000Z", None))!.Manifest!.ClusterTime);
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
        await store.RecordSinkOutcomeAsync(id, "github", SinkStatus.Succeeded, null, new ExampleLocation { Commit = "abc" }, None);
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
        Assert.Equal("abc", record.Sinks["github"].LocationAs<ExampleLocation>()!.Commit);

        await store.RecordSinkOutcomeAsync(id, "telegram", SinkStatus.Succeeded, null, new ExampleLocation { Parts = [1, 2] }, None);
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

    [Fact]
    public async Task Foreign_documents_in_backups_meta_are_never_read_or_changed_by_any_query_of_the_store()
    {
        var (store, raw) = await CreateAsync(sinks: [BackupSinks.GitHub]);
        var now = _time.GetUtcNow();
        var foreign = await SharedBackupsMeta.InsertForeignAsync(raw.Database, now);
        var lookalike = SnapshotIds.FromTime(now.AddMinutes(-30)); // 03:30, a foreign document with a snapshot-like id
        var failed = SnapshotIds.FromTime(now); // 04:00
        var complete = SnapshotIds.FromTime(now.AddMinutes(10)); // 04:10

        foreach (var (id, outcome) in new[] { (failed, SinkStatus.Failed), (complete, SinkStatus.Succeeded) })
        {
            await store.RecordRequestedAsync(id, now, "schedule", None);
            Assert.Equal(ExportClaim.Acquired, (await store.TryClaimExportAsync(id, "a", Lease, None)).Claim);
            Assert.True(await store.RenewExportLeaseAsync(id, "a", Lease, None));
            Assert.True(await store.MarkCreatedAsync(id, "a", Artifact, Manifest(id), None));
            await store.MarkAnnouncedAsync(id, None);
            Assert.Equal(SinkClaim.Acquired, await store.TryClaimSinkAsync(id, BackupSinks.GitHub, "s", Lease, None));
            Assert.True(await store.RenewSinkLeaseAsync(id, BackupSinks.GitHub, "s", Lease, None));
            await store.UpdateSinkLocationAsync(id, BackupSinks.GitHub, new ExampleLocation { Commit = id }, None);
            await store.RecordSinkErrorAsync(id, BackupSinks.GitHub, "retrying", None);
            await store.RecordSinkOutcomeAsync(id, BackupSinks.GitHub, outcome, null, new ExampleLocation { Commit = id }, None);
        }

        // Each of these would match the look-alike (status failed, sinks.github succeeded with a location, an
        // artifact, an id inside the range) and the ObjectId documents would fail to deserialise.
        Assert.Equal([complete, failed], (await store.ListRecentAsync(100, None)).Select(r => r.Id));
        Assert.Equal(complete, (await store.FindLatestCompleteAsync(None))!.Id);
        Assert.Equal(complete, (await store.FindLatestSucceededAsync(BackupSinks.GitHub, None))!.Id);
        Assert.Equal([failed], (await store.ListSinkCopiesBeforeAsync(BackupSinks.GitHub, complete, None)).Select(r => r.Id));
        Assert.Equal([failed], (await store.ListWithArtifactBeforeAsync(complete, None)).Select(r => r.Id));
        Assert.Equal(failed, (await store.ClaimUnalertedOutcomeAsync(SnapshotIds.FromTime(now.AddHours(-1)), None))!.Id);
        Assert.Null(await store.ClaimUnalertedOutcomeAsync(SnapshotIds.FromTime(now.AddHours(-1)), None));
        await store.MarkSinkCopiesRemovedAsync(BackupSinks.GitHub, SnapshotIds.FromTime(now.AddHours(1)), None);
        await store.MarkSinkCopyRemovedAsync(lookalike, BackupSinks.GitHub, None);
        await store.RecordSinkRemovalAsync(failed, BackupSinks.GitHub, new ExampleRemoval(), None);
        await store.MarkArtifactDeletedAsync(lookalike, None);
        await store.MarkArtifactDeletedAsync(failed, None);
        await store.RecordDrillAsync(lookalike, "store", ok: true, error: null, None);
        await store.RecordDrillAsync(complete, "store", ok: true, error: null, None);
        Assert.Null(await store.GetAsync(lookalike, None));
        Assert.Equal(SinkClaim.NoRecord, await store.TryClaimSinkAsync(lookalike, BackupSinks.GitHub, "s", Lease, None));
        Assert.Equal(ExportClaim.HeldElsewhere, (await store.TryClaimExportAsync(lookalike, "a", Lease, None)).Claim);
        Assert.Equal(StoredTime.Of(now), (await store.GetAsync(complete, None))!.Sinks[BackupSinks.GitHub].RemovedAt);

        // A request for the look-alike's id cannot become a record there: it fails, naming the id, and changes nothing.
        var collision = await Assert.ThrowsAsync<InvalidOperationException>(() => store.RecordRequestedAsync(lookalike, now, "manual", None));
        Assert.Contains(lookalike, collision.Message);
        await store.RecordRequestedAsync(failed, now, "manual", None); // a repeated request for an own record is still fine

        await SharedBackupsMeta.AssertForeignUnchangedAsync(raw.Database, foreign);
        Assert.Equal(foreign.Count + 2, await raw.CountDocumentsAsync(FilterDefinition<BsonDocument>.Empty, cancellationToken: None));
    }

    [Fact]
    public async Task Records_written_before_kind_existed_are_marked_once_and_found_while_foreign_documents_are_not()
    {
        var (_, raw) = await CreateAsync();
        var now = _time.GetUtcNow();
        var foreign = await SharedBackupsMeta.InsertForeignAsync(raw.Database, now);
        var old = SnapshotIds.FromTime(now.AddHours(-3));
        await raw.InsertOneAsync(SharedBackupsMeta.RecordWithoutKind(old), cancellationToken: None);

        // A store opened after the upgrade: its first query marks the old record as this product's.
        var store = new BackupsMetaStore(raw.Database, _time, []);
        var listed = Assert.Single(await store.ListRecentAsync(10, None));
        Assert.Equal(old, listed.Id);
        Assert.Equal(BackupStatus.Complete, listed.Status);
        Assert.Equal(SnapshotIds.ToTime(old).AddHours(9).UtcDateTime, listed.Artifact!.DeletedAt); // read back as it was written
        Assert.Equal(BackupRecord.SnapshotKind, (await raw.Find(new BsonDocument("_id", old)).SingleAsync(None))["kind"].AsString);
        Assert.Equal(old, (await store.FindLatestCompleteAsync(None))!.Id);

        await SharedBackupsMeta.AssertForeignUnchangedAsync(raw.Database, foreign);
    }
}

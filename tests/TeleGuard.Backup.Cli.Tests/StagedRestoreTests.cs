using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Cli.Tests;

/// <summary>
/// A restore that fails (a bad line, a kill -9 while writing, a server error or a kill while swapping) leaves the target's
/// collections exactly as they were, and the next restore removes (or rolls back) what a killed one left.
/// </summary>
public sealed class StagedRestoreTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);
    private const int BigDocuments = 3000;
    private readonly TemporaryDirectory _work = new();

    public void Dispose() => _work.Dispose();

    [Fact]
    public async Task A_line_that_hashes_correctly_but_cannot_be_decoded_fails_verify_and_a_drop_restore_leaves_the_target_as_it_was()
    {
        var folder = await ExportSourceAsync(marker: null);
        CorruptLineKeepingHashes(folder, "big", lineNumber: 2500, "{\"$numberInt\":\"2499\"}", "{\"$numberInt\":\"24x9\"}");
        var (targetUri, target) = await TargetWithOtherDataAsync();
        var before = await DescribeAsync(target);

        var verify = await CliProcess.RunAsync(Environment(), Timeout, "verify", "--from", "file", "--path", folder);
        Assert.Equal(1, verify.ExitCode);
        Assert.Contains("Collection big: collections/big/part-0001.jsonl line 2500 cannot be restored", verify.Output);

        var restore = await CliProcess.RunAsync(Environment(), Timeout, "restore", "--from", "file", "--path", folder, "--to-uri", targetUri, "--drop");
        Assert.Equal(1, restore.ExitCode);
        Assert.Contains("line 2500", restore.Output);
        Assert.Equal(before, await DescribeAsync(target));
    }

    [Fact]
    public async Task A_restore_killed_while_writing_leaves_the_target_as_it_was_and_the_next_restore_removes_its_temporary_collections()
    {
        var marker = $"stall-{Guid.NewGuid():N}";
        var folder = await ExportSourceAsync(marker);
        var (targetUri, target) = await TargetWithOtherDataAsync();
        var before = await DescribeAsync(target);
        await using var proxy = FaultProxy.For(targetUri);
        proxy.StallRequestsContaining(marker); // the insert carrying document 2500 of "big" is held: two batches are already in

        using (var restore = CliProcess.Start(Environment(), "restore", "--from", "file", "--path", folder, "--to-uri", proxy.Through(targetUri), "--drop"))
        {
            await WaitUntilAsync(() => Task.FromResult(proxy.StalledRequests > 0), "the insert holding the marker to reach the proxy", restore);
            // Positive evidence that the restore was writing when it was killed: a batch before the held one has landed.
            // Waited for: with several batches in flight, the held one can reach the proxy before an earlier one lands.
            await WaitUntilAsync(async () =>
            {
                foreach (var staged in (await ListAsync(target)).Where(RestoreWorkCollections.IsWorkCollection))
                {
                    if (await target.GetCollection<BsonDocument>(staged).CountDocumentsAsync(FilterDefinition<BsonDocument>.Empty) >= 1000)
                    {
                        return true;
                    }
                }

                return false;
            }, "a batch before the held one to land in a work collection", restore);
            restore.Kill();
        }

        proxy.StopStalling();
        Assert.Equal(before, await DescribeAsync(target, includeWorkCollections: false));
        var refused = await CliProcess.RunAsync(Environment(), Timeout, "restore", "--from", "file", "--path", folder, "--to-uri", targetUri, "--drop");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("Another restore into", refused.Output); // the killed one's lease has not lapsed yet
        await ExpireLeaseAsync(target);

        var next = await CliProcess.RunAsync(Environment(), Timeout, "restore", "--from", "file", "--path", folder, "--to-uri", targetUri, "--drop");
        Assert.True(next.ExitCode == 0, next.Output);
        Assert.Contains("temporary collections left by an interrupted restore", next.Output);
        Assert.DoesNotContain(await ListAsync(target), RestoreWorkCollections.IsWorkCollection);
        Assert.Equal(BigDocuments, await target.GetCollection<BsonDocument>("big").CountDocumentsAsync(FilterDefinition<BsonDocument>.Empty));
    }

    [Fact]
    public async Task Ctrl_c_while_writing_stops_the_restore_and_removes_what_it_wrote()
    {
        var marker = $"stall-{Guid.NewGuid():N}";
        var folder = await ExportSourceAsync(marker);
        var (targetUri, target) = await TargetWithOtherDataAsync();
        var before = await DescribeAsync(target);
        await using var proxy = FaultProxy.For(targetUri);
        proxy.StallRequestsContaining(marker);

        using var restore = CliProcess.Start(Environment(), "restore", "--from", "file", "--path", folder, "--to-uri", proxy.Through(targetUri), "--drop");
        await WaitUntilAsync(() => Task.FromResult(proxy.StalledRequests > 0), "the insert holding the marker to reach the proxy", restore);
        Assert.Contains(await ListAsync(target), RestoreWorkCollections.IsWorkCollection);
        restore.Interrupt();
        Assert.Equal(1, await restore.WaitForExitAsync(Timeout));
        Assert.Contains("cancelled (Ctrl+C or SIGTERM)", restore.Output);
        Assert.Equal(before, await DescribeAsync(target)); // work collections included: none is left
    }

    [Fact]
    public async Task A_server_that_fails_in_the_middle_of_the_swap_gets_back_what_was_there_once_it_answers_again()
    {
        var folder = await ExportSourceAsync(marker: null);
        var (targetUri, target) = await TargetWithOtherDataAsync();
        var before = await DescribeAsync(target);
        var appName = $"swap-{Guid.NewGuid():N}"[..20];
        // The first renameCollection ("big" moved aside) succeeds, every later one fails, also the rollback's.
        await using (await FailPoint.SetAsync(targetUri, appName, ["renameCollection"], new BsonDocument("skip", 1), new BsonDocument("errorCode", 11600)))
        {
            var restore = await CliProcess.RunAsync(Environment(), Timeout, "restore", "--from", "file", "--path", folder,
                "--to-uri", WithAppName(targetUri, appName), "--drop");
            Assert.Equal(1, restore.ExitCode);
            Assert.Contains("could not put them back yet", restore.Output);
            Assert.Contains("the next restore into", restore.Output);
        }

        // The server answers again: the next restore puts "big" back first; this one then fails on a bad line.
        CorruptLineKeepingHashes(folder, "big", lineNumber: 10, "{\"$numberInt\":\"9\"}", "{\"$numberInt\":\"x\"}");
        var next = await CliProcess.RunAsync(Environment(), Timeout, "restore", "--from", "file", "--path", folder, "--to-uri", targetUri, "--drop");
        Assert.Equal(1, next.ExitCode);
        Assert.Contains("was in the middle of its swap: 1 collections were put back", next.Output);
        Assert.Equal(before, await DescribeAsync(target));
    }

    [Fact]
    public async Task A_restore_killed_in_the_middle_of_its_swap_is_rolled_back_by_the_next_restore()
    {
        var folder = await ExportSourceAsync(marker: null);
        var corrupt = await ExportSourceAsync(marker: null);
        CorruptLineKeepingHashes(corrupt, "big", lineNumber: 10, "{\"$numberInt\":\"9\"}", "{\"$numberInt\":\"x\"}");
        var (targetUri, target) = await TargetWithOtherDataAsync();
        var before = await DescribeAsync(target);

        // Killed while "big" is moved aside: the next restore puts it back first; this one then fails on a bad line,
        // so nothing else changes.
        await KillInTheMiddleOfTheSwapAsync(targetUri, target, folder);
        Assert.NotEqual(before, await DescribeAsync(target, includeWorkCollections: false)); // half swapped: "big" is missing
        var next = await CliProcess.RunAsync(Environment(), Timeout, "restore", "--from", "file", "--path", corrupt, "--to-uri", targetUri, "--drop");
        Assert.Equal(1, next.ExitCode);
        Assert.Contains("was in the middle of its swap: 1 collections were put back", next.Output);
        Assert.Equal(before, await DescribeAsync(target));

        // Killed again; this time the next restore puts "big" back and then restores the snapshot over it.
        await KillInTheMiddleOfTheSwapAsync(targetUri, target, folder);
        var good = await CliProcess.RunAsync(Environment(), Timeout, "restore", "--from", "file", "--path", folder, "--to-uri", targetUri, "--drop");
        Assert.True(good.ExitCode == 0, good.Output);
        Assert.Contains("was in the middle of its swap: 1 collections were put back", good.Output);
        Assert.Equal(BigDocuments, await target.GetCollection<BsonDocument>("big").CountDocumentsAsync(FilterDefinition<BsonDocument>.Empty));
        Assert.Equal(["big", "empty", "other", "users"], (await ListAsync(target)).Order(StringComparer.Ordinal));
    }

    // Runs a --drop restore whose second renameCollection (the staged "big" under its name) is held, and kills it there.
    private static async Task KillInTheMiddleOfTheSwapAsync(string targetUri, IMongoDatabase target, string folder)
    {
        var appName = $"kill-{Guid.NewGuid():N}"[..20];
        await using (await FailPoint.SetAsync(targetUri, appName, ["renameCollection"], new BsonDocument("skip", 1),
                         new BsonDocument { { "blockConnection", true }, { "blockTimeMS", 20_000 }, { "errorCode", 11600 } }))
        {
            using var restore = CliProcess.Start(Environment(), "restore", "--from", "file", "--path", folder, "--to-uri", WithAppName(targetUri, appName), "--drop");
            await WaitUntilAsync(async () => (await ListAsync(target)).Any(n => n.Contains(".old.", StringComparison.Ordinal)), "a collection moved aside", restore);
            Assert.Contains(await ListAsync(target), n => n.EndsWith(".swap", StringComparison.Ordinal));
            restore.Kill();
        }

        await ExpireLeaseAsync(target);
    }

    // A killed restore's lease lapses a minute after its last renewal; let that minute pass.
    private static async Task ExpireLeaseAsync(IMongoDatabase target) =>
        await target.GetCollection<BsonDocument>(RestoreWorkCollections.LeaseCollection).UpdateOneAsync(
            new BsonDocument("_id", "restore"), new BsonDocument("$set", new BsonDocument("until", DateTime.UtcNow.AddSeconds(-1))));

    [Fact]
    public async Task A_dry_run_reports_every_collection_also_for_a_non_empty_target_and_writes_nothing()
    {
        var folder = await ExportSourceAsync(marker: null);
        var (targetUri, target) = await TargetWithOtherDataAsync();
        var before = await DescribeAsync(target);

        var dryRun = await CliProcess.RunAsync(Environment(), Timeout, "restore", "--from", "file", "--path", folder, "--to-uri", targetUri, "--dry-run");
        Assert.Equal(1, dryRun.ExitCode);
        Assert.Contains("would refuse big: the target holds 10 documents (use --drop to replace it)", dryRun.Output);
        Assert.Contains("would create empty: 0 documents", dryRun.Output);
        Assert.Contains("without --drop the restore would refuse: big, users", dryRun.Output);
        var withDrop = await CliProcess.RunAsync(Environment(), Timeout, "restore", "--from", "file", "--path", folder, "--to-uri", targetUri, "--dry-run", "--drop");
        Assert.True(withDrop.ExitCode == 0, withDrop.Output);
        Assert.Contains($"would replace big (10 documents) with {BigDocuments} documents", withDrop.Output);
        Assert.Equal(before, await DescribeAsync(target));
    }

    private static Dictionary<string, string?> Environment() => new() { ["LOG_FORMAT"] = "text" };

    // A source with a large collection (three insert batches), a small one and an empty one, exported in-process.
    private async Task<string> ExportSourceAsync(string? marker)
    {
        var uri = await TestServices.MongoUriAsync();
        var client = new MongoClient(uri);
        var source = client.GetDatabase(MongoUrl.Create(uri).DatabaseName);
        await source.GetCollection<BsonDocument>("big").InsertManyAsync(Enumerable.Range(0, BigDocuments).Select(i => new BsonDocument
        {
            { "_id", i }, { "n", i }, { "text", i == 2499 && marker is not null ? marker : new string('x', 200) },
        }));
        await source.GetCollection<BsonDocument>("users").InsertManyAsync(Enumerable.Range(0, 20).Select(i => new BsonDocument { { "_id", i }, { "email", $"u{i}@x.org" } }));
        await source.CreateCollectionAsync("empty");
        var folder = Path.Combine(_work.Path, $"snapshot-{Guid.NewGuid():N}");
        await new SnapshotExporter(client, source.DatabaseNamespace.DatabaseName, NullLogger<SnapshotExporter>.Instance)
            .ExportAsync("20261130T120000Z", folder, new SnapshotExportOptions(), CancellationToken.None);
        return folder;
    }

    // Replaces one line's text by another of the same length and recomputes every hash the manifest holds for it, so
    // that only decoding can notice.
    private static void CorruptLineKeepingHashes(string folder, string collectionName, int lineNumber, string find, string replace)
    {
        var manifest = SnapshotManifest.Parse(File.ReadAllBytes(Path.Combine(folder, SnapshotManifest.FileName)));
        var collection = manifest.Collections.Single(c => c.Name == collectionName);
        var part = collection.Parts.Single();
        var path = Path.Combine(folder, part.File);
        var lines = File.ReadAllLines(path, Encoding.UTF8);
        Assert.Contains(find, lines[lineNumber - 1]);
        lines[lineNumber - 1] = lines[lineNumber - 1].Replace(find, replace, StringComparison.Ordinal);
        var bytes = Encoding.UTF8.GetBytes(string.Concat(lines.Select(l => l + "\n")));
        File.WriteAllBytes(path, bytes);
        var sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
        var changed = collection with { Bytes = bytes.Length, Sha256 = sha, Parts = [part with { Bytes = bytes.Length, Sha256 = sha }] };
        var rewritten = manifest with { Collections = manifest.Collections.Select(c => c.Name == collectionName ? changed : c).ToList() };
        File.WriteAllBytes(Path.Combine(folder, SnapshotManifest.FileName), rewritten.ToJsonBytes());
    }

    // A target that already holds "big" and "users" (other data, an extra index) and a collection the snapshot lacks.
    private static async Task<(string Uri, IMongoDatabase Database)> TargetWithOtherDataAsync()
    {
        var uri = await TestServices.MongoUriAsync();
        var target = new MongoClient(uri).GetDatabase(MongoUrl.Create(uri).DatabaseName);
        var big = target.GetCollection<BsonDocument>("big");
        await big.InsertManyAsync(Enumerable.Range(0, 10).Select(i => new BsonDocument { { "_id", $"live-{i}" }, { "x", i } }));
        await big.Indexes.CreateOneAsync(new CreateIndexModel<BsonDocument>(new BsonDocument("x", 1), new CreateIndexOptions { Name = "x_live", Unique = true }));
        await target.GetCollection<BsonDocument>("users").InsertManyAsync(Enumerable.Range(0, 3).Select(i => new BsonDocument { { "_id", -i }, { "live", true } }));
        await target.GetCollection<BsonDocument>("other").InsertOneAsync(new BsonDocument { { "_id", 1 }, { "kept", "always" } });
        return (uri, target);
    }

    // Every collection of the database with its documents (raw BSON in _id order) and index definitions.
    private static async Task<string> DescribeAsync(IMongoDatabase database, bool includeWorkCollections = true)
    {
        var text = new StringBuilder();
        foreach (var name in (await ListAsync(database)).Where(n => includeWorkCollections || !RestoreWorkCollections.IsWorkCollection(n)).Order(StringComparer.Ordinal))
        {
            text.AppendLine($"collection {name}");
            var documents = await database.GetCollection<RawBsonDocument>(name).Find(FilterDefinition<RawBsonDocument>.Empty).Sort(new BsonDocument("_id", 1)).ToListAsync();
            foreach (var document in documents)
            {
                var bytes = new byte[document.Slice.Length];
                document.Slice.GetBytes(0, bytes, 0, bytes.Length);
                text.AppendLine(Convert.ToHexString(bytes));
            }

            foreach (var index in await (await database.GetCollection<BsonDocument>(name).Indexes.ListAsync()).ToListAsync())
            {
                text.AppendLine(new BsonDocument(index.Where(e => e.Name is not ("v" or "ns"))).ToJson());
            }
        }

        return text.ToString();
    }

    private static async Task<List<string>> ListAsync(IMongoDatabase database) =>
        await (await database.ListCollectionNamesAsync()).ToListAsync();

    private static string WithAppName(string uri, string appName) => new MongoUrlBuilder(uri) { ApplicationName = appName }.ToString();

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, CliProcess process)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Waited in vain for {what}. Output:\n{process.Output}");
            }

            await Task.Delay(50);
        }
    }
}

using Microsoft.Extensions.Logging.Abstractions;
using MongoDB.Bson;
using MongoDB.Bson.Serialization;
using MongoDB.Driver;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.SnapshotFormat.Tests;

/// <summary>
/// The restore's insert commands, written as BSON bytes: every document byte for byte, never past the server's
/// command limit, and a document the server refuses stops the restore with the target as it was.
/// </summary>
public sealed class InsertCommandTests : IDisposable
{
    private readonly TemporaryDirectory _work = new();

    public void Dispose() => _work.Dispose();

    [Fact]
    public void The_command_carries_every_document_byte_for_byte_under_keys_0_1_2()
    {
        BsonDocument[] documents =
        [
            new() { { "_id", 1 }, { "nested", new BsonDocument("a", new BsonArray { 1, "x", BsonNull.Value }) } },
            new() { { "_id", new ObjectId("65a1b2c3d4e5f60718293a4b") }, { "bytes", new BsonBinaryData([1, 2, 3], BsonBinarySubType.Binary) } },
            new() { { "_id", "three" }, { "d", new Decimal128(1.5m) }, { "$odd", true } },
        ];
        var command = new InsertCommand("teleguard.restore.0123456789ab.new.1", "people", ordered: false);
        foreach (var document in documents)
        {
            command.Add(document.ToBson());
        }

        var bytes = command.ToCommand().ToBson();
        var parsed = BsonSerializer.Deserialize<BsonDocument>(bytes);
        Assert.Equal(["insert", "ordered", "bypassDocumentValidation", "documents"], parsed.Names);
        Assert.Equal("teleguard.restore.0123456789ab.new.1", parsed["insert"].AsString);
        Assert.False(parsed["ordered"].AsBoolean);
        Assert.True(parsed["bypassDocumentValidation"].AsBoolean);
        var sent = parsed["documents"].AsBsonArray.Select(d => d.AsBsonDocument.ToBson()).ToList();
        Assert.Equal(documents.Select(d => d.ToBson()), sent);
        // The array's keys as BSON requires them: "0", "1", "2".
        var keyed = new BsonDocument(documents.Select((d, i) => new BsonElement(i.ToString(System.Globalization.CultureInfo.InvariantCulture), d)));
        Assert.Equal(keyed.ToBson(), ExtractArray(bytes));
        Assert.Throws<ArgumentException>(() => new InsertCommand("c", "c", ordered: true).Add([5, 0, 0, 0]));
        Assert.Throws<ArgumentException>(() => new InsertCommand("c", "c", ordered: true).Add(Document(16 * 1024 * 1024 + 1)));
    }

    // The target's write concern travels with every insert unless it is the server's default; an unacknowledged one is
    // left out (the answer is needed), so the server's default applies.
    [Fact]
    public void The_targets_write_concern_is_sent_unless_it_is_the_default_or_unacknowledged()
    {
        BsonValue? Sent(WriteConcern? concern)
        {
            var command = new InsertCommand("written", "people", ordered: false, concern);
            command.Add(new BsonDocument("_id", 1).ToBson());
            return BsonSerializer.Deserialize<BsonDocument>(command.ToCommand().ToBson()).GetValue("writeConcern", null);
        }

        Assert.Equal(new BsonDocument("w", "majority"), Sent(WriteConcern.WMajority));
        Assert.Equal(new BsonDocument { { "w", 2 }, { "j", true } }, Sent(new WriteConcern(2, journal: true)));
        Assert.Null(Sent(WriteConcern.Acknowledged));
        Assert.Null(Sent(WriteConcern.Unacknowledged));
        Assert.Null(Sent(null));
    }

    // Filled as the restore fills it (while Fits), a command stays under the server's 16 MiB + 16 KiB with room for
    // the driver's own fields, whatever the documents' sizes: 167-byte documents reach the byte limit before the
    // 100,000-document one only when the array's keys are counted too.
    [Theory]
    [InlineData(16 * 1024)]
    [InlineData(167)]
    [InlineData(5)]
    public void A_command_filled_while_documents_fit_stays_under_the_servers_limit(int documentBytes)
    {
        var document = Document(documentBytes);
        var command = new InsertCommand("teleguard.restore.0123456789ab.new.1", "people", ordered: false);
        while (command.Fits(document.Length))
        {
            command.Add(document);
        }

        var length = command.ToCommand().Slice.Length;
        Assert.InRange(length, 1, InsertCommand.MaxCommandBytes - InsertCommand.DriverFieldsReserve);
        Assert.InRange(command.Count, 2, InsertCommand.MaxDocuments);
        // Full: one more document would not have fit (by bytes, or by count for the smallest).
        Assert.True(command.Count == InsertCommand.MaxDocuments || length + document.Length + 8 > InsertCommand.MaxCommandBytes - InsertCommand.DriverFieldsReserve);
    }

    [Fact]
    public void A_document_of_16_MiB_goes_alone_and_stays_under_the_limit()
    {
        var command = new InsertCommand("teleguard.restore.0123456789ab.new.1", "people", ordered: false);
        command.Add(Document(16 * 1024));
        Assert.False(command.Fits(16 * 1024 * 1024));

        var alone = new InsertCommand("teleguard.restore.0123456789ab.new.1", "people", ordered: false);
        Assert.True(alone.Fits(16 * 1024 * 1024));
        alone.Add(Document(16 * 1024 * 1024));
        Assert.InRange(alone.ToCommand().Slice.Length, 16 * 1024 * 1024, InsertCommand.MaxCommandBytes - InsertCommand.DriverFieldsReserve);
    }

    // A crafted snapshot (valid hashes, two documents with one _id) is refused by the server's unique _id index: the
    // restore stops naming the collection and the server's error, and the target keeps what it had, with no work
    // collection left behind.
    [Fact]
    public async Task A_document_the_server_refuses_stops_the_restore_and_the_target_keeps_what_it_had()
    {
        var client = new MongoClient(await TestServices.MongoUriAsync());
        var target = client.GetDatabase(TestServices.UniqueName("target"));
        await target.GetCollection<BsonDocument>("people").InsertOneAsync(new BsonDocument { { "_id", 1 }, { "precious", true } });
        var folder = Path.Combine(_work.Path, "crafted");
        var manifest = await WriteSnapshotAsync(folder, "people",
            [new BsonDocument { { "_id", 1 }, { "n", 1 } }, new BsonDocument { { "_id", 2 }, { "n", 2 } }, new BsonDocument { { "_id", 1 }, { "n", 3 } }]);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => new SnapshotRestorer(NullLogger.Instance).RestoreAsync(
            folder, manifest, client, target.DatabaseNamespace.DatabaseName, new RestoreOptions { Drop = true }, null, CancellationToken.None));

        Assert.Contains("Collection people: the server refused 1 of 3 documents of an insert (2 inserted)", error.Message);
        Assert.Contains("code 11000", error.Message);
        Assert.Equal(["people"], await (await target.ListCollectionNamesAsync()).ToListAsync());
        var kept = await target.GetCollection<BsonDocument>("people").Find(FilterDefinition<BsonDocument>.Empty).ToListAsync();
        Assert.Equal([new BsonDocument { { "_id", 1 }, { "precious", true } }], kept);
    }

    // Batches are cut by bytes as well as by count: a document of nearly 16 MiB between small ones restores, and the
    // restore's own verification reads every document back identical to the snapshot's BSON.
    [Fact]
    public async Task A_document_near_16_MiB_among_small_ones_restores_byte_for_byte()
    {
        var client = new MongoClient(await TestServices.MongoUriAsync());
        var target = client.GetDatabase(TestServices.UniqueName("target"));
        var documents = Enumerable.Range(0, 2500).Select(i => new BsonDocument { { "_id", i }, { "text", new string('s', 100) } }).ToList();
        documents[1200] = new BsonDocument { { "_id", 1200 }, { "text", new string('L', 16 * 1024 * 1024 - 200) } };
        var folder = Path.Combine(_work.Path, "large");
        var manifest = await WriteSnapshotAsync(folder, "mixed", documents);

        var restored = await new SnapshotRestorer(NullLogger.Instance).RestoreAsync(
            folder, manifest, client, target.DatabaseNamespace.DatabaseName, new RestoreOptions(), null, CancellationToken.None);

        Assert.Equal(2500, restored.Single().Documents);
        Assert.True(restored.Single().Verified);
        var large = await target.GetCollection<BsonDocument>("mixed").Find(new BsonDocument("_id", 1200)).SingleAsync();
        Assert.Equal(documents[1200].ToBson(), large.ToBson());
    }

    // A command whose connection drops on the way is sent once more; what the first attempt had written (here inserted
    // beforehand, as a first attempt that wrote before its connection dropped would have) is found by _id and counted.
    [Fact]
    public async Task A_dropped_connection_is_sent_again_and_documents_a_first_attempt_wrote_count_as_inserted()
    {
        var (uri, appName, database) = await ClientWithNameAsync();
        var written = database.GetCollection<BsonDocument>("written");
        BsonDocument[] documents = [new() { { "_id", 1 }, { "n", 1 } }, new() { { "_id", 2 }, { "n", 2 } }, new() { { "_id", 3 }, { "n", 3 } }];
        await written.InsertOneAsync(documents[0], cancellationToken: TestContext.Current.CancellationToken);
        var command = new InsertCommand("written", "people", ordered: false);
        foreach (var document in documents)
        {
            command.Add(document.ToBson());
        }

        await using (await FailPoint.SetAsync(uri, appName, ["insert"], new BsonDocument("times", 1), new BsonDocument("closeConnection", true)))
        {
            await command.SendAsync(database, TestContext.Current.CancellationToken);
        }

        Assert.Equal(documents, await written.Find(FilterDefinition<BsonDocument>.Empty).SortBy(d => d["_id"]).ToListAsync(TestContext.Current.CancellationToken));
    }

    // Without a failure on the way, a document already there is a refusal, not something to count.
    [Fact]
    public async Task A_document_already_there_is_refused_when_nothing_failed_on_the_way()
    {
        var (_, _, database) = await ClientWithNameAsync();
        var written = database.GetCollection<BsonDocument>("written");
        await written.InsertOneAsync(new BsonDocument { { "_id", 1 }, { "other", true } }, cancellationToken: TestContext.Current.CancellationToken);
        var command = new InsertCommand("written", "people", ordered: false);
        for (var i = 1; i <= 3; i++)
        {
            command.Add(new BsonDocument { { "_id", i }, { "n", i } }.ToBson());
        }

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => command.SendAsync(database, TestContext.Current.CancellationToken));

        Assert.Contains("Collection people: the server refused 1 of 3 documents of an insert (2 inserted); the first (index 0): code 11000", error.Message);
    }

    [Fact]
    public async Task A_write_concern_error_stops_the_insert_naming_the_collection()
    {
        var (uri, appName, database) = await ClientWithNameAsync();
        var command = new InsertCommand("written", "people", ordered: false);
        command.Add(new BsonDocument("_id", 1).ToBson());

        InvalidOperationException error;
        await using (await FailPoint.SetAsync(uri, appName, ["insert"], new BsonDocument("times", 1),
            new BsonDocument("writeConcernError", new BsonDocument { { "code", 64 }, { "codeName", "WriteConcernFailed" }, { "errmsg", "waiting for replication timed out" } })))
        {
            error = await Assert.ThrowsAsync<InvalidOperationException>(() => command.SendAsync(database, TestContext.Current.CancellationToken));
        }

        Assert.Contains("Collection people: an insert was not acknowledged as asked", error.Message);
        Assert.Contains("waiting for replication timed out", error.Message);
    }

    // No MongoDB document is over 16 MiB: a crafted line that decodes to more fails verify as it fails restore.
    [Fact]
    public async Task A_line_that_decodes_past_16_MiB_fails_verify()
    {
        var folder = Path.Combine(_work.Path, "oversized");
        var oversized = new BsonDocument { { "_id", 1 }, { "text", new string('o', 16 * 1024 * 1024) } };
        var manifest = await WriteSnapshotAsync(folder, "big", [oversized]);

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => SnapshotContent.VerifyAsync(folder, manifest, null, TestContext.Current.CancellationToken));

        Assert.Contains("Collection big: collections/big/", error.Message);
        Assert.Contains($"line 1 decodes to {oversized.ToBson().Length} bytes of BSON, more than MongoDB's 16 MiB document limit", error.Message);
    }

    private static async Task<(string Uri, string AppName, IMongoDatabase Database)> ClientWithNameAsync()
    {
        var uri = await TestServices.MongoUriAsync();
        var appName = TestServices.UniqueName("insert");
        var settings = MongoClientSettings.FromConnectionString(uri);
        settings.ApplicationName = appName;
        return (uri, appName, new MongoClient(settings).GetDatabase(TestServices.UniqueName("insert")));
    }

    private static byte[] Document(int bytes)
    {
        // {"p": "<string>"}: 4 (length) + 1 (type) + 2 ("p\0") + 4 (string length) + text + 1 (its \0) + 1 (end) = 13 + text.
        var document = new BsonDocument("p", new string('x', Math.Max(0, bytes - 13))).ToBson();
        return bytes < 13 ? new BsonDocument().ToBson() : document;
    }

    private static byte[] ExtractArray(byte[] command)
    {
        var at = command.AsSpan().IndexOf("documents\0"u8) + "documents\0"u8.Length;
        var length = BitConverter.ToInt32(command, at);
        return command.AsSpan(at, length).ToArray();
    }

    private static Task<SnapshotManifest> WriteSnapshotAsync(string folder, string name, IReadOnlyList<BsonDocument> documents) =>
        SnapshotFolders.WriteAsync(folder, "20261201T070000Z", [(name, documents)]);
}

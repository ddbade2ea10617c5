using System.Text.RegularExpressions;
using MongoDB.Bson;
using MongoDB.Driver;
using TeleGuard.Backup.Crypto;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Cli.Tests;

/// <summary>
/// The Telegram copy with TELEGRAM_ENCRYPTION_KEY, end to end with the real program: a snapshot of a real database sent
/// to the fake Bot API, what Telegram holds, and restore, verify, drill and decrypt with the key, without it and with
/// another; a copy made before the key was set still restores.
/// </summary>
public sealed partial class TelegramEncryptionTests : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);
    private const string BackupsMetaCollection = TeleGuard.Backup.Storage.BackupsMetaStore.CollectionName;
    private readonly TemporaryDirectory _work = new();
    private FakeTelegramBotApi? _telegram;

    [GeneratedRegex(@"Requested snapshot (\d{8}T\d{6}Z)")]
    private static partial Regex SnapshotIdPattern();

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static async Task<string> SnapshotAsync(Dictionary<string, string?> environment)
    {
        var backup = await CliProcess.RunAsync(environment, Timeout, "snapshot");
        Assert.True(backup.ExitCode == 0, backup.Output);
        Assert.Contains(": complete", backup.Output);
        return SnapshotIdPattern().Match(backup.Output).Groups[1].Value;
    }

    private static async Task AssertEmptyAsync(string uri) =>
        Assert.Empty(await (await new MongoClient(uri).GetDatabase(MongoUrl.Create(uri).DatabaseName).ListCollectionNamesAsync()).ToListAsync());

    [Fact]
    public async Task An_encrypted_telegram_copy_restores_only_with_its_key_and_an_older_unencrypted_copy_still_restores()
    {
        var (uri, source) = await RestoreSourceData.CreateAsync();
        _telegram = await FakeTelegramBotApi.StartAsync(TimeProvider.System);
        var key = EncryptionKeyRing.GenerateKey();
        var keyId = EncryptionKeyRing.KeyIdOf(key);
        var plain = new Dictionary<string, string?>
        {
            ["MONGODB_URI"] = uri,
            ["REDIS_URL"] = await TestServices.RedisUrlAsync(),
            ["REDIS_KEY_PREFIX"] = TestServices.UniqueName("test"),
            ["SNAPSHOT_DIR"] = _work.Path,
            ["LOG_FORMAT"] = "text",
            ["TELEGRAM_BOT_TOKEN"] = _telegram.Token,
            ["TELEGRAM_CHANNEL_ID"] = FakeTelegramBotApi.ChatId.ToString(),
            ["TELEGRAM_API_BASE_URL"] = _telegram.BaseUrl,
        };
        var encrypted = new Dictionary<string, string?>(plain) { ["TELEGRAM_ENCRYPTION_KEY"] = Convert.ToBase64String(key) };

        // A copy made before the key was set, then one with it.
        var older = await SnapshotAsync(plain);
        await Task.Delay(TimeSpan.FromSeconds(1.1)); // snapshot ids have one-second resolution
        var id = await SnapshotAsync(encrypted);

        // What Telegram holds of the encrypted copy: no gzip, no tar, no document of the source; the format under the key's id.
        var messages = _telegram.Messages.Where(m => m.Caption.Contains($"snapshot {id} ", StringComparison.Ordinal)).ToList();
        var message = Assert.Single(messages);
        Assert.Equal($"teleguard-{id}.tgb", message.FileName);
        var stored = _telegram.ReadFile(message);
        var marker = "u123@example.org"u8.ToArray(); // a user's e-mail address in the source database
        Assert.False(stored.AsSpan().StartsWith(new byte[] { 0x1f, 0x8b }), "the stored part is gzip");
        Assert.Equal(-1, stored.AsSpan().IndexOf("ustar"u8));
        Assert.Equal(-1, stored.AsSpan().IndexOf(marker));
        Assert.Equal(new EncryptedFileHeader(2, keyId, StreamingEncryption.DefaultChunkBytes, id), StreamingEncryption.ParseHeader(stored));

        // Downloaded by hand, it decrypts with the Telegram key alone into the archive that holds the source's documents.
        var downloads = Path.Combine(_work.Path, "downloads");
        Directory.CreateDirectory(downloads);
        File.Copy(message.Path, Path.Combine(downloads, message.FileName));
        var archive = Path.Combine(_work.Path, "snapshot.tar");
        var decrypted = await CliProcess.RunAsync(new Dictionary<string, string?> { ["TELEGRAM_ENCRYPTION_KEY"] = Convert.ToBase64String(key) }, Timeout,
            "decrypt", "--in", downloads, "--snapshot", id, "--out", archive);
        Assert.True(decrypted.ExitCode == 0, decrypted.Output);
        Assert.Contains($"of snapshot {id} encrypted with key {keyId}", decrypted.Output);
        Assert.True((await File.ReadAllBytesAsync(archive)).AsSpan().IndexOf(marker) > 0, "the decrypted archive holds the source's documents");

        // With the key: verify, restore byte-equal, the drill.
        var verified = await CliProcess.RunAsync(encrypted, Timeout, "verify", "--from", "telegram", "--snapshot", id);
        Assert.True(verified.ExitCode == 0, verified.Output);
        var targetUri = await TestServices.MongoUriAsync();
        var restored = await CliProcess.RunAsync(encrypted, Timeout, "restore", "--from", "telegram", "--snapshot", id, "--to-uri", targetUri,
            "--collections", string.Join(',', RestoreSourceData.Collections));
        Assert.True(restored.ExitCode == 0, restored.Output);
        Assert.Contains($"restored snapshot {id}", restored.StandardOutput);
        await RestoreSourceData.AssertSameAsync(source, new MongoClient(targetUri).GetDatabase(MongoUrl.Create(targetUri).DatabaseName));
        var drill = await CliProcess.RunAsync(encrypted, Timeout, "drill");
        Assert.True(drill.ExitCode == 0, drill.Output);
        var drills = (await source.GetCollection<BsonDocument>(BackupsMetaCollection).Find(new BsonDocument("_id", id)).SingleAsync())["drills"];
        Assert.True(drills["telegram"]["ok"].AsBoolean);

        // Without the key, and with another one: one line naming the key id the copy needs; the target stays empty.
        var otherKey = EncryptionKeyRing.GenerateKey();
        var refusals = new[]
        {
            (plain, $"the Telegram copy is encrypted with key {keyId}; set TELEGRAM_ENCRYPTION_KEY"),
            (new Dictionary<string, string?>(plain) { ["TELEGRAM_ENCRYPTION_KEY"] = Convert.ToBase64String(otherKey) },
                $"the Telegram copy is encrypted with key {keyId}, which is neither TELEGRAM_ENCRYPTION_KEY (key {EncryptionKeyRing.KeyIdOf(otherKey)})"),
        };
        foreach (var (environment, expected) in refusals)
        {
            var emptyUri = await TestServices.MongoUriAsync();
            var refused = await CliProcess.RunAsync(environment, Timeout, "restore", "--from", "telegram", "--snapshot", id, "--to-uri", emptyUri);
            Assert.True(refused.ExitCode == 1, refused.Output);
            var line = Assert.Single(Lines(refused.StandardError));
            Assert.StartsWith($"teleguard-backup restore: ", line);
            Assert.Contains($"Snapshot {id}: {expected}", line);
            await AssertEmptyAsync(emptyUri);
            Assert.DoesNotContain(Convert.ToBase64String(otherKey), refused.Output);
        }

        // The copy made before the key was set restores with the key configured, also as recorded before this option
        // existed (no "encrypted" field).
        var meta = source.GetCollection<BsonDocument>(BackupsMetaCollection);
        Assert.False((await meta.Find(new BsonDocument("_id", older)).SingleAsync())["sinks"]["telegram"]["location"]["encrypted"].AsBoolean);
        await meta.UpdateOneAsync(new BsonDocument("_id", older), Builders<BsonDocument>.Update.Unset("sinks.telegram.location.encrypted"));
        var olderUri = await TestServices.MongoUriAsync();
        var olderRestore = await CliProcess.RunAsync(encrypted, Timeout, "restore", "--from", "telegram", "--snapshot", older, "--to-uri", olderUri,
            "--collections", string.Join(',', RestoreSourceData.Collections));
        Assert.True(olderRestore.ExitCode == 0, olderRestore.Output);
        await RestoreSourceData.AssertSameAsync(source, new MongoClient(olderUri).GetDatabase(MongoUrl.Create(olderUri).DatabaseName));
        Assert.Equal($"teleguard-{older}.tar.gz", _telegram.Messages.Single(m => m.Caption.Contains($"snapshot {older} ", StringComparison.Ordinal)).FileName);

        // status says which key; the key itself appears nowhere.
        var status = await CliProcess.RunAsync(encrypted, Timeout, "status");
        Assert.Matches($@"telegram: succeeded at \S+: 1 of 1 parts as messages \d+ in chat {FakeTelegramBotApi.ChatId}; encrypted with key {keyId}", status.StandardOutput);
        var everything = string.Join('\n', decrypted.Output, verified.Output, restored.Output, drill.Output, olderRestore.Output, status.Output);
        Assert.DoesNotContain(Convert.ToBase64String(key), everything);
        var records = await meta.Find(FilterDefinition<BsonDocument>.Empty).ToListAsync();
        Assert.DoesNotContain(Convert.ToBase64String(key), string.Join('\n', records.Select(r => r.ToJson())));
    }

    public async ValueTask DisposeAsync()
    {
        if (_telegram is not null)
        {
            await _telegram.DisposeAsync();
        }

        _work.Dispose();
    }
}

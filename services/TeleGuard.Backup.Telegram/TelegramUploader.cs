using Microsoft.Extensions.Options;
using MongoDB.Bson;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Sinks;
using TeleGuard.Backup.Snapshots;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Telegram;

/// <summary>
/// Uploads a snapshot to the channel: the artifact gzip-compressed into one archive, sent in parts of at most
/// <c>TELEGRAM_PART_SIZE_MB</c>, each captioned with the snapshot id, i/n, the archive size and SHA-256. Every part's
/// message id is recorded in <c>backups_meta</c> as soon as it is sent (bots cannot read channel history), so a retry
/// or redelivery sends only the parts not recorded yet.
/// </summary>
public sealed class TelegramUploader(
    TelegramChannel channel,
    SnapshotArtifactFetcher fetcher,
    BackupsMetaStore meta,
    IOptions<TelegramSinkOptions> options,
    IOptions<WorkDirectoryOptions> workDirectory,
    TimeProvider time,
    ILogger<TelegramUploader> logger)
{
    public async Task<BsonDocument> UploadAsync(SnapshotCreated snapshot, CancellationToken cancellationToken)
    {
        var id = snapshot.SnapshotId;
        var work = Path.Combine(workDirectory.Value.Path, "telegram", $"{id}.{Guid.NewGuid():N}");
        Directory.CreateDirectory(work);
        try
        {
            var archive = Path.Combine(work, $"teleguard-{id}.tar.gz");
            await fetcher.CompressVerifiedAsync(snapshot, archive, cancellationToken);
            var size = new FileInfo(archive).Length;
            string sha256;
            await using (var file = File.OpenRead(archive))
            {
                sha256 = Convert.ToHexStringLower(await System.Security.Cryptography.SHA256.HashDataAsync(file, cancellationToken));
            }

            var partSize = options.Value.PartSizeBytes;
            var count = (int)Math.Max(1, (size + partSize - 1) / partSize);

            // Parts already on the channel for this very archive (gzip output is deterministic for the same artifact).
            var recorded = (await meta.GetAsync(id, cancellationToken))?.Sinks.GetValueOrDefault(BackupSinks.Telegram)?.Location;
            var parts = recorded is not null && recorded.GetValue("archiveSha256", "").AsString == sha256 && recorded.GetValue("partSize", 0L).ToInt64() == partSize
                ? recorded["parts"].AsBsonArray.Select(p => p.AsBsonDocument).ToList()
                : [];
            var location = new BsonDocument
            {
                { "chatId", options.Value.Channel },
                { "archiveSize", size },
                { "archiveSha256", sha256 },
                { "partSize", partSize },
                { "partCount", count },
                { "parts", new BsonArray(parts) },
            };

            for (var index = 1; index <= count; index++)
            {
                if (parts.Any(p => p["index"].AsInt32 == index))
                {
                    continue;
                }

                var offset = (index - 1) * partSize;
                var length = Math.Min(partSize, size - offset);
                var fileName = count == 1 ? $"teleguard-{id}.tar.gz" : $"teleguard-{id}.tar.gz.part{index:D3}of{count:D3}";
                var caption = $"TeleGuard snapshot {id} · part {index}/{count} · archive {size} bytes · sha256 {sha256}";
                string partSha256;
                await using (var part = new FileSegmentStream(archive, offset, length))
                {
                    partSha256 = Convert.ToHexStringLower(await System.Security.Cryptography.SHA256.HashDataAsync(part, cancellationToken));
                }

                var (messageId, fileId) = await channel.SendDocumentAsync(() => new FileSegmentStream(archive, offset, length), fileName, caption, cancellationToken);
                var entry = new BsonDocument
                {
                    { "index", index }, { "messageId", messageId }, { "fileId", fileId }, { "size", length },
                    { "sha256", partSha256 }, { "sentAt", time.GetUtcNow().UtcDateTime },
                };
                parts.Add(entry);
                location["parts"] = new BsonArray(parts.OrderBy(p => p["index"].AsInt32));
                await meta.UpdateSinkLocationAsync(id, BackupSinks.Telegram, location, CancellationToken.None);
                logger.LogInformation("Telegram: snapshot {SnapshotId} part {Index}/{Count} sent as message {MessageId}", id, index, count, messageId);
            }

            location["messageIds"] = new BsonArray(parts.OrderBy(p => p["index"].AsInt32).Select(p => p["messageId"]));
            return location;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}

/// <summary>A read-only window on a file: <c>length</c> bytes from <c>offset</c>.</summary>
public sealed class FileSegmentStream : ReadOnlyStream
{
    private readonly FileStream _file;
    private readonly long _length;
    private long _position;

    public FileSegmentStream(string path, long offset, long length)
    {
        _file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
        _file.Seek(offset, SeekOrigin.Begin);
        _length = length;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var take = (int)Math.Min(buffer.Length, _length - _position);
        if (take <= 0)
        {
            return 0;
        }

        var read = _file.Read(buffer[..take]);
        _position += read;
        return read;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var take = (int)Math.Min(buffer.Length, _length - _position);
        if (take <= 0)
        {
            return 0;
        }

        var read = await _file.ReadAsync(buffer[..take], cancellationToken);
        _position += read;
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override long Length => _length;
    public override long Position { get => _position; set => throw new NotSupportedException(); }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _file.Dispose();
        }

        base.Dispose(disposing);
    }
}

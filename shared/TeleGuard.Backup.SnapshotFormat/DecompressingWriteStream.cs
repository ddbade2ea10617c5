using System.IO.Compression;

namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>A write-side gunzip: bytes written are gzip data; their decompressed form goes to the inner stream.</summary>
public sealed class DecompressingWriteStream : WriteOnlyStream
{
    private readonly System.IO.Pipelines.Pipe _pipe = new();
    private readonly Task _pump;

    public DecompressingWriteStream(Stream inner)
    {
        _pump = Task.Run(async () =>
        {
            await using var gzip = new GZipStream(_pipe.Reader.AsStream(), CompressionMode.Decompress);
            await gzip.CopyToAsync(inner);
        });
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _pipe.Writer.WriteAsync(buffer, cancellationToken);
    }

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    /// <summary>Ends the gzip data and waits until all of it is decompressed; throws when it was not valid gzip.</summary>
    public async Task FinishAsync()
    {
        await _pipe.Writer.CompleteAsync();
        await _pump;
    }

    public override async ValueTask DisposeAsync()
    {
        await _pipe.Writer.CompleteAsync();
        try
        {
            await _pump;
        }
        catch (Exception) when (!_pump.IsCompletedSuccessfully)
        {
            // Disposing after a failure upstream: that failure is the one to report, not the cut-off gzip stream.
        }

        await base.DisposeAsync();
    }
}

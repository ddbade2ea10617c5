using MongoDB.Bson;

namespace TeleGuard.Backup.SnapshotFormat;

internal static class RawDocumentBytes
{
    /// <summary>
    /// A document's BSON bytes as the driver received them: in place when its buffer chunk holds them whole, else copied
    /// into <paramref name="scratch"/> (grown as needed and reused).
    /// </summary>
    public static ReadOnlySpan<byte> Of(RawBsonDocument document, ref byte[] scratch)
    {
        var slice = document.Slice;
        var length = slice.Length;
        var segment = slice.AccessBackingBytes(0);
        if (segment.Count >= length)
        {
            return segment.AsSpan(0, length);
        }

        if (scratch.Length < length)
        {
            scratch = new byte[Math.Max(length, scratch.Length * 2)];
        }

        slice.GetBytes(0, scratch, 0, length);
        return scratch.AsSpan(0, length);
    }
}

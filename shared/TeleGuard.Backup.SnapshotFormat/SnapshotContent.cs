using System.Security.Cryptography;
using MongoDB.Bson;

namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>
/// Reads a verified snapshot folder's documents the way a restore writes them: every line of every part decoded into
/// BSON, counted and hashed. <see cref="VerifyAsync"/> runs it without writing anything, so a snapshot that verifies is
/// one whose every document decodes to the bytes that were exported (format version 2 records their SHA-256).
/// </summary>
public static class SnapshotContent
{
    /// <summary>Longest line accepted: a 16 MiB document written as JSON can grow (escapes, base64), a hostile line cannot.</summary>
    public const int MaxLineBytes = 128 * 1024 * 1024;

    /// <summary>MongoDB's largest document: a line that decodes to more could never have been exported.</summary>
    public const int MaxDocumentBytes = 16 * 1024 * 1024;

    /// <summary>Decodes every line of every collection and every metadata file; throws naming the collection, file and line.</summary>
    public static async Task VerifyAsync(string snapshotDirectory, SnapshotManifest manifest, Action<string>? progress, CancellationToken cancellationToken)
    {
        foreach (var collection in manifest.Collections)
        {
            await ReadMetadataAsync(snapshotDirectory, collection, cancellationToken);
            var documents = await DecodeAsync(snapshotDirectory, manifest, collection, null, cancellationToken);
            progress?.Invoke($"{collection.Name}: {documents} documents decode to the exported BSON");
        }
    }

    /// <summary>The collection's metadata (name, type, options, indexes), decoded and checked against the manifest.</summary>
    public static async Task<BsonDocument> ReadMetadataAsync(string snapshotDirectory, CollectionEntry collection, CancellationToken cancellationToken)
    {
        var file = collection.Metadata.File;
        BsonDocument metadata;
        try
        {
            metadata = CanonicalJsonReader.ReadDocument(await File.ReadAllBytesAsync(Path.Combine(snapshotDirectory, SnapshotPaths.EnsureSafeRelative(file)), cancellationToken));
        }
        catch (Exception e) when (e is FormatException or BsonException)
        {
            throw new InvalidDataException($"Collection {collection.Name}: {file} cannot be decoded: {e.Message}", e);
        }

        if (metadata.GetValue("name", BsonNull.Value) != collection.Name || metadata.GetValue("type", BsonNull.Value) != collection.Type
            || !metadata.GetValue("options", BsonNull.Value).IsBsonDocument || !metadata.GetValue("indexes", BsonNull.Value).IsBsonArray)
        {
            throw new InvalidDataException($"Collection {collection.Name}: {file} does not describe this collection.");
        }

        return metadata;
    }

    /// <summary>
    /// Decodes the collection's documents in file order, handing each one's BSON to <paramref name="onDocument"/> (the
    /// bytes are valid only during the call), and checks the counts of every part and, in format version 2, the SHA-256
    /// of the decoded BSON. Returns the number of documents.
    /// </summary>
    public static async Task<long> DecodeAsync(string snapshotDirectory, SnapshotManifest manifest, CollectionEntry collection,
        Func<ReadOnlyMemory<byte>, CancellationToken, ValueTask>? onDocument, CancellationToken cancellationToken)
    {
        var reader = new CanonicalJsonReader();
        var versionOne = manifest.FormatVersion == 1;
        using var bsonHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long documents = 0;
        foreach (var part in collection.Parts)
        {
            await using var input = new FileStream(Path.Combine(snapshotDirectory, SnapshotPaths.EnsureSafeRelative(part.File)),
                FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
            var lines = new JsonLinesReader(input, maxLineBytes: MaxLineBytes);
            long lineNumber = 0;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                ReadOnlyMemory<byte> line;
                try
                {
                    line = lines.ReadLine();
                }
                catch (InvalidDataException e)
                {
                    throw new InvalidDataException($"Collection {collection.Name}: {part.File} after line {lineNumber}: {e.Message}", e);
                }

                if (line.IsEmpty)
                {
                    break;
                }

                lineNumber++;
                ReadOnlyMemory<byte> bson;
                try
                {
                    bson = versionOne ? VersionOneLineReader.Decode(line.Span) : reader.DecodeToMemory(line.Span);
                }
                catch (FormatException e)
                {
                    throw new InvalidDataException($"Collection {collection.Name}: {part.File} line {lineNumber} cannot be restored: {e.Message}", e);
                }

                if (bson.Length > MaxDocumentBytes)
                {
                    throw new InvalidDataException($"Collection {collection.Name}: {part.File} line {lineNumber} decodes to {bson.Length} bytes of BSON, more than MongoDB's 16 MiB document limit.");
                }

                bsonHash.AppendData(bson.Span);
                if (onDocument is not null)
                {
                    await onDocument(bson, cancellationToken);
                }
            }

            if (lineNumber != part.Documents)
            {
                throw new InvalidDataException($"Collection {collection.Name}: {part.File} holds {lineNumber} documents, the manifest says {part.Documents}.");
            }

            documents += lineNumber;
        }

        if (documents != collection.Documents)
        {
            throw new InvalidDataException($"Collection {collection.Name}: the parts hold {documents} documents, the manifest says {collection.Documents}.");
        }

        if (collection.BsonSha256 is { } expected && Convert.ToHexStringLower(bsonHash.GetHashAndReset()) != expected)
        {
            throw new InvalidDataException($"Collection {collection.Name}: the decoded documents differ from the BSON that was exported (bsonSha256 mismatch).");
        }

        return documents;
    }
}

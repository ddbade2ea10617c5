using System.Diagnostics;
using Microsoft.Extensions.Logging;
using MongoDB.Bson;
using MongoDB.Driver;

namespace TeleGuard.Backup.Snapshots;

public sealed record RestoreOptions
{
    /// <summary>Only these collections; null or empty: every collection of the snapshot.</summary>
    public IReadOnlyList<string>? Collections { get; init; }

    /// <summary>Drop target collections that already hold documents; without it such a collection stops the restore.</summary>
    public bool Drop { get; init; }

    /// <summary>Report what would be written, write nothing.</summary>
    public bool DryRun { get; init; }

    public int BatchSize { get; init; } = 1000;

    /// <summary>Re-export what was restored and compare content hashes (always on in the CLI; benchmarks may skip it).</summary>
    public bool VerifyAfterRestore { get; init; } = true;
}

public sealed record RestoredCollection(string Name, long Documents, int Indexes, bool Verified);

/// <summary>
/// Restores a verified snapshot folder into a database: checks first that nothing would be overwritten (unless
/// <c>Drop</c>), then per collection recreates it with its options, inserts the documents in batches, recreates the
/// indexes, and finally exports the restored collections and compares each one's content hash with the manifest.
/// </summary>
public sealed class SnapshotRestorer(ILogger logger)
{
    public async Task<IReadOnlyList<RestoredCollection>> RestoreAsync(
        string snapshotDirectory, SnapshotManifest manifest, IMongoClient client, string databaseName, RestoreOptions options,
        Action<string>? progress, CancellationToken cancellationToken)
    {
        var wanted = options.Collections is { Count: > 0 } list ? new HashSet<string>(list, StringComparer.Ordinal) : null;
        var collections = manifest.Collections.Where(c => wanted is null || wanted.Contains(c.Name)).ToList();
        if (wanted is not null && wanted.Except(collections.Select(c => c.Name)).ToList() is { Count: > 0 } missing)
        {
            throw new InvalidOperationException($"Snapshot {manifest.SnapshotId} has no collection {string.Join(", ", missing)}.");
        }

        var database = client.GetDatabase(databaseName);
        var existing = await (await database.ListCollectionNamesAsync(cancellationToken: cancellationToken)).ToListAsync(cancellationToken);
        var occupied = new List<string>();
        foreach (var collection in collections.Where(c => existing.Contains(c.Name)))
        {
            if (collection.Type == "view" || await database.GetCollection<BsonDocument>(collection.Name)
                    .Find(FilterDefinition<BsonDocument>.Empty).Limit(1).AnyAsync(cancellationToken))
            {
                occupied.Add(collection.Name);
            }
        }

        if (occupied.Count > 0 && !options.Drop)
        {
            throw new InvalidOperationException(
                $"Refusing to restore into non-empty collections of {databaseName}: {string.Join(", ", occupied)}. Use --drop to replace them.");
        }

        if (options.DryRun)
        {
            foreach (var collection in collections)
            {
                progress?.Invoke($"would restore {collection.Name}: {collection.Documents} documents{(occupied.Contains(collection.Name) ? " (after dropping the existing collection)" : "")}");
            }

            return collections.Select(c => new RestoredCollection(c.Name, c.Documents, 0, Verified: false)).ToList();
        }

        var restored = new List<RestoredCollection>();
        foreach (var collection in collections)
        {
            restored.Add(await RestoreCollectionAsync(snapshotDirectory, collection, database, existing.Contains(collection.Name), options, progress, cancellationToken));
        }

        return options.VerifyAfterRestore ? await VerifyAsync(manifest, client, databaseName, restored, cancellationToken) : restored;
    }

    private async Task<RestoredCollection> RestoreCollectionAsync(string snapshotDirectory, CollectionEntry collection, IMongoDatabase database,
        bool exists, RestoreOptions options, Action<string>? progress, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        var metadata = CanonicalJsonReader.ReadDocument(await File.ReadAllBytesAsync(Path.Combine(snapshotDirectory, collection.Metadata.File), cancellationToken));
        if (exists)
        {
            await database.DropCollectionAsync(collection.Name, cancellationToken);
        }

        var create = new BsonDocument("create", collection.Name);
        foreach (var option in metadata.GetValue("options", new BsonDocument()).AsBsonDocument)
        {
            create[option.Name] = option.Value;
        }

        await database.RunCommandAsync<BsonDocument>(create, cancellationToken: cancellationToken);
        long inserted = 0;
        if (collection.Type == "collection")
        {
            var target = database.GetCollection<BsonDocument>(collection.Name);
            var batch = new List<BsonDocument>(options.BatchSize);
            foreach (var part in collection.Parts)
            {
                await using var input = File.OpenRead(Path.Combine(snapshotDirectory, part.File));
                var reader = new JsonLinesReader(input);
                for (var line = reader.ReadLine(); !line.IsEmpty; line = reader.ReadLine())
                {
                    batch.Add(CanonicalJsonReader.ReadDocument(line.Span));
                    if (batch.Count == options.BatchSize)
                    {
                        inserted += await InsertAsync(target, batch, cancellationToken);
                    }
                }
            }

            inserted += await InsertAsync(target, batch, cancellationToken);
        }

        var indexes = metadata.GetValue("indexes", new BsonArray()).AsBsonArray
            .Select(i => i.AsBsonDocument)
            .Where(i => i.GetValue("name", "").AsString != "_id_")
            .Select(i => new BsonDocument(i.Where(e => e.Name is not ("v" or "ns"))))
            .ToList();
        if (indexes.Count > 0)
        {
            await database.RunCommandAsync<BsonDocument>(
                new BsonDocument { { "createIndexes", collection.Name }, { "indexes", new BsonArray(indexes) } }, cancellationToken: cancellationToken);
        }

        progress?.Invoke($"restored {collection.Name}: {inserted} documents, {indexes.Count} indexes in {stopwatch.Elapsed.TotalSeconds:F1} s");
        logger.LogInformation("Restored {Collection}: {Documents} documents, {Indexes} indexes", collection.Name, inserted, indexes.Count);
        return new RestoredCollection(collection.Name, inserted, indexes.Count, Verified: false);
    }

    private static async Task<long> InsertAsync(IMongoCollection<BsonDocument> target, List<BsonDocument> batch, CancellationToken cancellationToken)
    {
        if (batch.Count == 0)
        {
            return 0;
        }

        await target.InsertManyAsync(batch, new InsertManyOptions { IsOrdered = true, BypassDocumentValidation = true }, cancellationToken);
        var count = batch.Count;
        batch.Clear();
        return count;
    }

    // Exports what was restored and compares each collection's content hash with the manifest.
    private async Task<IReadOnlyList<RestoredCollection>> VerifyAsync(SnapshotManifest manifest, IMongoClient client, string databaseName,
        IReadOnlyList<RestoredCollection> restored, CancellationToken cancellationToken)
    {
        var check = Path.Combine(Path.GetTempPath(), $"teleguard-verify-{Guid.NewGuid():N}");
        try
        {
            var exported = await new SnapshotExporter(client, databaseName, Microsoft.Extensions.Logging.Abstractions.NullLogger<SnapshotExporter>.Instance)
                .ExportAsync(manifest.SnapshotId, check, new SnapshotExportOptions { Collections = restored.Select(r => r.Name).ToList() }, cancellationToken);
            var mismatches = new List<string>();
            var result = new List<RestoredCollection>();
            foreach (var collection in restored)
            {
                var expected = manifest.Collections.Single(c => c.Name == collection.Name);
                var actual = exported.Collections.Single(c => c.Name == collection.Name);
                var same = expected.Sha256 == actual.Sha256 && expected.Documents == actual.Documents;
                if (!same)
                {
                    mismatches.Add($"{collection.Name} ({actual.Documents} documents, sha256 {actual.Sha256[..12]}… instead of {expected.Documents}, {expected.Sha256[..12]}…)");
                }

                result.Add(collection with { Verified = same });
            }

            if (mismatches.Count > 0)
            {
                throw new InvalidDataException($"Snapshot {manifest.SnapshotId}: the restored data differs from the snapshot in {string.Join("; ", mismatches)}.");
            }

            return result;
        }
        finally
        {
            if (Directory.Exists(check))
            {
                Directory.Delete(check, recursive: true);
            }
        }
    }
}

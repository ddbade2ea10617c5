using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Benchmarks;

/// <summary>
/// <c>mongo-absorb-inserts</c>: an <see cref="InsertAbsorbingProxy"/> in front of <c>MONGODB_URI</c>, in its own
/// process so that its CPU is not the restore's, for restores of any build of this harness. It absorbs inserts into a
/// restore's staged collections and into the harness's own <c>small*</c> collections (an older restorer wrote into
/// the target directly), prints <c>LISTENING uri</c>, and runs until its standard input closes.
/// </summary>
public static class AbsorbInsertsMode
{
    public static async Task<int> RunAsync()
    {
        var uri = Environment.GetEnvironmentVariable("MONGODB_URI") ?? "mongodb://127.0.0.1:27017/";
        await using var proxy = InsertAbsorbingProxy.Start(uri, name =>
            name.StartsWith("small", StringComparison.Ordinal) || (RestoreWorkCollections.RunOf(name) is not null && name.Contains(".new.", StringComparison.Ordinal)));
        Console.WriteLine($"LISTENING {proxy.Through(uri)}");
        await Console.In.ReadToEndAsync();
        Console.WriteLine($"absorbed {proxy.AbsorbedDocuments:N0} documents in {proxy.AbsorbedBatches:N0} insert commands ({proxy.AbsorbedBytes / 1048576.0:F1} MiB)");
        return 0;
    }
}

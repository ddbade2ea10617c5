using TeleGuard.Backup.Benchmarks;

return args.FirstOrDefault() switch
{
    "writer" => WriterBenchmark.Run(args[1..]),
    "export-mongo" => await ExportBenchmark.RunAsync(args[1..]),
    "git-growth" => GitGrowthBenchmark.Run(args[1..]),
    "crypto" => await CryptoBenchmark.RunAsync(args[1..]),
    "telegram-upload" => await TelegramUploadBenchmark.RunAsync(args[1..]),
    "fake-telegram" => await TelegramUploadBenchmark.ServeFakeAsync(),
    "restore-mongo" => await RestoreBenchmark.RunAsync(args[1..]),
    "restore-decode" => await DecodeBenchmark.RunAsync(args[1..]),
    "mongo-absorb-inserts" => await AbsorbInsertsMode.RunAsync(),
    "compression" => CompressionBenchmark.Run(args[1..]),
    "pipeline" => await PipelineBenchmark.RunAsync(args[1..]),
    "seed-baseline" => await SeedBaselineBenchmark.RunSeedAsync(args[1..]),
    "ours-baseline" => await SeedBaselineBenchmark.RunOursAsync(args[1..]),
    "suite" => await SuiteBenchmark.RunAsync(args[1..]),
    "drop-bench-databases" => await BenchDatabases.DropAsync(),
    "github-sink" => await GitHubSinkBenchmark.RunAsync(args[1..]),
    "snapshot-dir" => await SnapshotDirBenchmark.RunAsync(args[1..]),
    "recorder" => await RecorderBenchmark.RunAsync(args[1..]),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("""
        usage: dotnet run -c Release --project tests/TeleGuard.Backup.Benchmarks -- MODE [options]
          suite [--quick] [--out docs/benchmark-results.md] [--before-restore DLL] [--before-pipeline DLL]
                                     (--before-*: earlier builds' harnesses for round two's before columns, see Before/README.md)
                                     every mode below in its own process, then one Markdown table against the targets
          writer [--mb 512]          canonical JSONL + SHA-256 from in-process BSON, one thread; and the driver's JsonWriter
          export-mongo [--mb 1024]   export a collection of that size from MONGODB_URI (filled if needed); peak memory
          git-growth [--mb 100] [--hours 24] [--churn 0.01]
                                     hourly commits + pushes to the git server of services.env (GIT_HTTP_*); repository
                                     size after git gc relative to one gzip-compressed snapshot
          crypto [--mb 1024]         encrypt a stream of that size to a file and decrypt it back; MB/s next to
                                     `openssl speed -evp aes-256-gcm`, and peak memory
          telegram-upload [--mb 1024] [--part-mb 500]
                                     the Telegram sink uploading an archive of that size to the fake Bot API (local-server
                                     mode, run in a child process); peak memory of the sink's process (MONGODB_URI needed)
          compression [--mb 256]     gzip / brotli / zlib / zstd levels on canonical JSONL: MB/s and ratio
          pipeline [--mb 10] [--store directory]
                                     the services as processes on RabbitMQ: SnapshotRequested → every destination, export and
                                     each sink alone, each process's peak memory (MONGODB_URI, RABBITMQ_URI, GIT_HTTP_*)
          github-sink [--mb 1024]    the GitHub sink alone committing and pushing a synthetic snapshot; its peak memory
          snapshot-dir [--mb 20] [--hours 48] [--cleanup-hours 8] [--churn 0.01]
                                     SNAPSHOT_DIR's size over simulated hourly snapshots with cleanups (services in this
                                     process, MONGODB_URI, REDIS_URL, GIT_HTTP_*): after each hour and at its peak, in snapshots
          seed-baseline [--mb 100]   BASELINE: the seed's in-memory JSON (indent=2, default=str) + whole-file AES-GCM + base64
          ours-baseline [--mb 100]   this project's streaming export + gzip + AES-256-GCM on the same database
          recorder [--seconds 60] [--rate 0] [--increment-seconds 10] [--destinations]
                                     the change recorder as a process on MONGODB_RS_URI while a writer inserts and updates
                                     (--rate events/s, 0: as fast as it can): events/s recorded, write-to-record lag, peak memory;
                                     --destinations: also the GitHub and Telegram services, and the lag to each
          restore-mongo [--documents 1000000] [--collections 1] [--parallel-collections 4] [--in-flight 4] [--no-verify]
                                     restore a snapshot of that many small documents into MONGODB_URI; documents/s, client
                                     CPU s per GiB, memory
          restore-decode [--documents 1000000] [--synthetic]
                                     the restore's decode alone (JSONL to the BSON it inserts, with its checks), one thread
          mongo-absorb-inserts       a wire proxy in front of MONGODB_URI that answers a restore's bulk inserts itself (a
                                     server that inserts at once) and forwards the rest; prints LISTENING uri, runs until
                                     its standard input closes
        """);
    return 64;
}

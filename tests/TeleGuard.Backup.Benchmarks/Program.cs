using TeleGuard.Backup.Benchmarks;

return args.FirstOrDefault() switch
{
    "writer" => WriterBenchmark.Run(args[1..]),
    "export-mongo" => await ExportBenchmark.RunAsync(args[1..]),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("""
        usage: dotnet run -c Release --project tests/TeleGuard.Backup.Benchmarks -- MODE [options]
          writer [--mb 512]          canonical JSONL + SHA-256 from in-process BSON, one thread; and the driver's JsonWriter
          export-mongo [--mb 1024]   export a collection of that size from MONGODB_URI (filled if needed); peak memory
        """);
    return 64;
}

using System.Diagnostics;
using System.IO.Compression;
using MongoDB.Bson;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Benchmarks;

/// <summary>Codecs on the same canonical JSONL (synthetic documents): compression and decompression MB/s (of JSON) and ratio, one thread.</summary>
public static class CompressionBenchmark
{
    private static readonly (string Name, Func<Stream, Stream> Compress, Func<Stream, Stream> Decompress)[] Codecs =
    [
        ("gzip-fastest", s => new GZipStream(s, CompressionLevel.Fastest, true), s => new GZipStream(s, CompressionMode.Decompress, true)),
        ("gzip-optimal (sinks)", s => new GZipStream(s, CompressionLevel.Optimal, true), s => new GZipStream(s, CompressionMode.Decompress, true)),
        ("gzip-smallest", s => new GZipStream(s, CompressionLevel.SmallestSize, true), s => new GZipStream(s, CompressionMode.Decompress, true)),
        ("brotli-fastest", s => new BrotliStream(s, CompressionLevel.Fastest, true), s => new BrotliStream(s, CompressionMode.Decompress, true)),
        ("brotli-optimal", s => new BrotliStream(s, CompressionLevel.Optimal, true), s => new BrotliStream(s, CompressionMode.Decompress, true)),
        ("zlib-optimal", s => new ZLibStream(s, CompressionLevel.Optimal, true), s => new ZLibStream(s, CompressionMode.Decompress, true)),
        ("zstd-1", s => Zstd(s, 1), ZstdDecompress),
        ("zstd-3 (zstd default)", s => Zstd(s, 3), ZstdDecompress),
        ("zstd-9", s => Zstd(s, 9), ZstdDecompress),
        ("zstd-19", s => Zstd(s, 19), ZstdDecompress),
    ];

    private static ZstdSharp.CompressionStream Zstd(Stream output, int level) => new ZstdSharp.CompressionStream(output, level, leaveOpen: true);

    private static ZstdSharp.DecompressionStream ZstdDecompress(Stream input) => new ZstdSharp.DecompressionStream(input, leaveOpen: true);

    public static int Run(string[] args)
    {
        var megabytes = args.Length >= 2 && args[0] == "--mb" ? int.Parse(args[1]) : 256;
        var json = new MemoryStream();
        var writer = new CanonicalJsonWriter();
        for (var i = 0; json.Length < megabytes * 1048576L; i++)
        {
            writer.Reset();
            writer.WriteLine(SyntheticDocuments.Create(i, 200 + i % 800).ToBson());
            json.Write(writer.Written);
        }

        var input = json.ToArray();
        Console.WriteLine($"input: {input.Length / 1048576.0:F0} MiB of canonical JSONL (synthetic documents, 200–1000 bytes of text padding)");
        // Warm-up: each codec once on 1 MiB first, so that the managed ones (zstd) are not measured while being compiled.
        foreach (var (_, compress, decompress) in Codecs)
        {
            var warm = new MemoryStream();
            using (var codec = compress(warm))
            {
                codec.Write(input.AsSpan(0, Math.Min(input.Length, 1 << 20)));
            }

            warm.Position = 0;
            using var back = decompress(warm);
            back.CopyTo(Stream.Null);
        }

        foreach (var (name, compress, decompress) in Codecs)
        {
            var compressed = new MemoryStream();
            var stopwatch = Stopwatch.StartNew();
            using (var codec = compress(compressed))
            {
                codec.Write(input);
            }

            var compressSeconds = stopwatch.Elapsed.TotalSeconds;
            compressed.Position = 0;
            stopwatch.Restart();
            using (var codec = decompress(compressed))
            {
                codec.CopyTo(Stream.Null, 1 << 20);
            }

            var decompressSeconds = stopwatch.Elapsed.TotalSeconds;
            var megabytesIn = input.Length / 1048576.0;
            Console.WriteLine($"{name,-22} compress {megabytesIn / compressSeconds,7:F0} MB/s  decompress {megabytesIn / decompressSeconds,7:F0} MB/s  ratio {input.Length / (double)compressed.Length,6:F2}");
            var key = name.Split(' ')[0];
            BenchmarkResult.Report($"compression.{key}.compress_mbps", megabytesIn / compressSeconds);
            BenchmarkResult.Report($"compression.{key}.decompress_mbps", megabytesIn / decompressSeconds);
            BenchmarkResult.Report($"compression.{key}.ratio", input.Length / (double)compressed.Length);
        }

        return 0;
    }
}

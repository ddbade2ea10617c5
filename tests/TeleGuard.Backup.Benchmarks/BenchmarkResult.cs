using System.Globalization;

namespace TeleGuard.Backup.Benchmarks;

/// <summary>
/// Machine-readable figures: each mode prints <c>RESULT name value</c> lines next to its prose, and <c>suite</c>
/// collects them from its child processes into the Markdown table.
/// </summary>
public static class BenchmarkResult
{
    public const string Prefix = "RESULT ";

    public static void Report(string name, double value) =>
        Console.WriteLine($"{Prefix}{name} {value.ToString("0.###", CultureInfo.InvariantCulture)}");

    /// <summary>Peak resident memory of this process in MiB (the kernel's high-water mark, VmHWM).</summary>
    public static double PeakResidentMiB()
    {
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line is null ? double.NaN : double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
    }
}

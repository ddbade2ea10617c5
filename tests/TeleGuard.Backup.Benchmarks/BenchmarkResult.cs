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

    /// <summary>
    /// CPU time this process has used, user + system, in seconds, from <c>/proc/self/stat</c> (utime and stime, in clock
    /// ticks of 1/100 s): the client's own cost of a step, whatever the server's speed.
    /// </summary>
    public static double ProcessCpuSeconds()
    {
        var stat = File.ReadAllText("/proc/self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // After "pid (comm) ", field 3 (state) is index 0: utime is field 14 (index 11), stime field 15 (index 12).
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }

    /// <summary>Peak resident memory of this process in MiB (the kernel's high-water mark, VmHWM).</summary>
    public static double PeakResidentMiB()
    {
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line is null ? double.NaN : double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
    }
}

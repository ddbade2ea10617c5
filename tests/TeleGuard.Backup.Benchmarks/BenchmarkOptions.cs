using System.Globalization;

namespace TeleGuard.Backup.Benchmarks;

/// <summary>Reads <c>--name value</c> options of a mode.</summary>
public static class BenchmarkOptions
{
    public static double Number(string[] args, string name, double fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? double.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}

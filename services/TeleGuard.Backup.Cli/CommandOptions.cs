using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace TeleGuard.Backup.Cli;

/// <summary>Options more than one command takes, and numbers checked against their range while parsing.</summary>
public static class CommandOptions
{
    public static Option<bool> Wait(string description) => new("--wait") { Description = description };

    public static Option<double> TimeoutSeconds(double defaultSeconds) =>
        Number("--timeout", $"how long --wait waits, in seconds (default {defaultSeconds:0})", 1, 7 * 24 * 3600, defaultSeconds);

    /// <summary>A number from <paramref name="min"/> to <paramref name="max"/>; anything else is a usage error naming the range.</summary>
    public static Option<double> Number(string name, string description, double min, double max, double defaultValue) =>
        new(name)
        {
            Description = description,
            HelpName = "NUMBER",
            DefaultValueFactory = _ => defaultValue,
            CustomParser = result => ParseNumber(result, name, min, max) ?? defaultValue,
        };

    /// <summary>Like <see cref="Number"/>, without a default: null when the option is not given.</summary>
    public static Option<double?> OptionalNumber(string name, string description, double min, double max) =>
        new(name)
        {
            Description = description,
            HelpName = "NUMBER",
            CustomParser = result => ParseNumber(result, name, min, max),
        };

    private static double? ParseNumber(ArgumentResult result, string name, double min, double max)
    {
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            result.AddError($"{name} must be a number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}");
            return null;
        }

        return value;
    }
}

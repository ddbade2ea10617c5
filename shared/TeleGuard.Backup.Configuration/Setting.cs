using System.Globalization;

namespace TeleGuard.Backup.Configuration;

/// <summary>
/// Setting text as the configuration binder hands it over from the environment, and the one way it is parsed, so that
/// a validator and the property that uses the value agree on what is valid.
/// </summary>
public static class Setting
{
    /// <summary>Blank means unset (docker compose passes <c>VAR=</c> for a variable it leaves empty); values are trimmed.</summary>
    public static string? Clean(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    public static bool IsWholeNumber(string text, int min, int max) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max;

    /// <summary>
    /// The number, or <paramref name="defaultValue"/> when unset or not a number: never an exception, which could
    /// quote the value (validation reports an invalid value before the options are used).
    /// </summary>
    public static int WholeNumber(string? text, int defaultValue) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : defaultValue;

    /// <summary>The flag, or <paramref name="defaultValue"/> when unset or not a flag (as <see cref="WholeNumber"/>).</summary>
    public static bool TrueOrFalse(string? text, bool defaultValue) => bool.TryParse(text, out var value) ? value : defaultValue;

    /// <summary>A problem as reported: the variable and what is wrong with it, never its value.</summary>
    public static string Problem(string variable, string problem) => $"{variable} {problem}.";
}

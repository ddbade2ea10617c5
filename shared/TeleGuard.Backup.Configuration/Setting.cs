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

    /// <summary>The number, or <paramref name="defaultValue"/> when unset; only called on validated options.</summary>
    public static int WholeNumber(string? text, int defaultValue) =>
        text is null ? defaultValue : int.Parse(text, NumberStyles.Integer, CultureInfo.InvariantCulture);

    /// <summary>The flag, or <paramref name="defaultValue"/> when unset; only called on validated options.</summary>
    public static bool TrueOrFalse(string? text, bool defaultValue) => text is null ? defaultValue : bool.Parse(text);

    /// <summary>A problem as reported: the variable and what is wrong with it, never its value.</summary>
    public static string Problem(string variable, string problem) => $"{variable} {problem}.";
}

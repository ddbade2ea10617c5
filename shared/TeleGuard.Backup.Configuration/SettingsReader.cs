using Microsoft.Extensions.Configuration;

namespace TeleGuard.Backup.Configuration;

/// <summary>
/// Reads settings by their environment variable names and collects problems as messages that name the variable and
/// never its value (values may be secrets, and URIs may carry passwords).
/// </summary>
public sealed class SettingsReader(IConfiguration configuration)
{
    private readonly List<string> _errors = [];

    public IReadOnlyList<string> Errors => _errors;

    public string? Optional(string name)
    {
        var value = configuration[name];
        return string.IsNullOrWhiteSpace(value) ? null : value.Trim();
    }

    public string Required(string name)
    {
        var value = Optional(name);
        if (value is null)
        {
            Fail(name, "is required but not set");
            return "";
        }

        return value;
    }

    public string OrDefault(string name, string defaultValue) => Optional(name) ?? defaultValue;

    /// <param name="why">Said after the bounds when the value is refused: why they are what they are.</param>
    public int WholeNumber(string name, int defaultValue, int min, int max, string? why = null)
    {
        var text = Optional(name);
        if (text is null)
        {
            return defaultValue;
        }

        if (!int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var value)
            || value < min || value > max)
        {
            Fail(name, $"must be a whole number from {min} to {max}{(why is null ? "" : $" ({why})")}");
            return defaultValue;
        }

        return value;
    }

    public bool Bool(string name, bool defaultValue)
    {
        var text = Optional(name);
        if (text is null)
        {
            return defaultValue;
        }

        if (!bool.TryParse(text, out var value))
        {
            Fail(name, "must be true or false");
            return defaultValue;
        }

        return value;
    }

    public void Fail(string name, string problem) => _errors.Add($"{name} {problem}.");
}

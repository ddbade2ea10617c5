namespace TeleGuard.Backup.Configuration;

/// <summary>Unset, or a whole number from <see cref="Min"/> to <see cref="Max"/>.</summary>
public sealed class WholeNumberAttribute(int min, int max) : SettingRuleAttribute
{
    public int Min { get; } = min;
    public int Max { get; } = max;

    /// <summary>Said after the bounds when the value is refused: why they are what they are.</summary>
    public string? Why { get; init; }

    protected override string? ProblemWith(string? text) =>
        text is null || Setting.IsWholeNumber(text, Min, Max)
            ? null
            : $"must be a whole number from {Min} to {Max}{(Why is null ? "" : $" ({Why})")}";
}

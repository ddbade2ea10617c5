namespace TeleGuard.Backup.Configuration;

/// <summary>Unset, true or false.</summary>
public sealed class TrueOrFalseAttribute : SettingRuleAttribute
{
    protected override string? ProblemWith(string? text) =>
        text is null || bool.TryParse(text, out _) ? null : "must be true or false";
}

namespace TeleGuard.Backup.Configuration;

/// <summary>Set, and not blank.</summary>
public sealed class RequiredSettingAttribute : SettingRuleAttribute
{
    protected override string? ProblemWith(string? text) => text is null ? "is required but not set" : null;
}

namespace TeleGuard.Backup.Configuration;

/// <summary>Unset, or an absolute path.</summary>
public sealed class AbsolutePathAttribute : SettingRuleAttribute
{
    protected override string? ProblemWith(string? text) =>
        text is null || Path.IsPathFullyQualified(text) ? null : "must be an absolute path";
}

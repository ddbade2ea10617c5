using LibGit2Sharp;
using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Git;

/// <summary>Unset, or a valid branch name.</summary>
public sealed class GitBranchNameAttribute : SettingRuleAttribute
{
    protected override string? ProblemWith(string? text) =>
        text is null || Reference.IsValidName($"refs/heads/{text}") ? null : "is not a valid branch name";
}

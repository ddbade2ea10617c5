using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Git;

/// <summary>Unset, or a repository's http(s) URL without credentials (the token has a variable of its own).</summary>
public sealed class GitRepositoryUrlAttribute : SettingRuleAttribute
{
    protected override string? ProblemWith(string? text) =>
        text is null ? null
        : !Uri.TryCreate(text, UriKind.Absolute, out var url) || url.Scheme is not ("https" or "http")
            ? "must be the repository's https URL, e.g. https://github.com/owner/backups.git"
        : url.UserInfo.Length > 0 ? "must not contain credentials; put the token in GITHUB_TOKEN"
        : null;
}

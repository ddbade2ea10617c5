using Microsoft.Extensions.Options;
using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Destinations.GitHub;

/// <summary>Each setting's rules, then all or none: a repository or branch needs the repository and a token.</summary>
public sealed class GitHubSinkOptionsValidator : IValidateOptions<GitHubSinkOptions>
{
    private readonly GitHubSinkSettingRules _settingRules = new();

    public ValidateOptionsResult Validate(string? name, GitHubSinkOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var result = new ValidateOptionsResultBuilder();
        result.AddResult(_settingRules.Validate(name, options));
        if (!options.Enabled)
        {
            return result.Build();
        }

        if (options.Repository is null)
        {
            result.AddError(Setting.Problem(GitHubSinkOptions.RepositoryVariable, $"is required when {GitHubSinkOptions.BranchVariable} is set"));
        }

        if (options.Token is null)
        {
            result.AddError(Setting.Problem(GitHubSinkOptions.TokenVariable, $"is required when {GitHubSinkOptions.RepositoryVariable} is set"));
        }

        return result.Build();
    }
}

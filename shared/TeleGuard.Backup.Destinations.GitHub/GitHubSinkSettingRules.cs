using Microsoft.Extensions.Options;

namespace TeleGuard.Backup.Destinations.GitHub;

/// <summary>Each setting's own rules (its data annotations); <see cref="GitHubSinkOptionsValidator"/> adds those between settings.</summary>
[OptionsValidator]
public sealed partial class GitHubSinkSettingRules : IValidateOptions<GitHubSinkOptions>;

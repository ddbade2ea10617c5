using Microsoft.Extensions.Options;

namespace TeleGuard.Backup.Configuration;

public sealed class EnvironmentOptionsValidator<TOptions> : IValidateOptions<TOptions>
    where TOptions : EnvironmentOptions
{
    public ValidateOptionsResult Validate(string? name, TOptions options) =>
        options.ConfigurationErrors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(options.ConfigurationErrors);
}

using Microsoft.Extensions.Configuration;

namespace TeleGuard.Backup.Configuration;

/// <summary>
/// Options read from environment variables (the names in README.md's configuration table). Problems found while reading are kept and reported by
/// <see cref="EnvironmentOptionsValidator{TOptions}"/> when the host starts (ValidateOnStart), so a service with bad
/// configuration stops before doing anything, with every problem listed.
/// </summary>
public abstract class EnvironmentOptions
{
    private IReadOnlyList<string> _errors = [];

    public IReadOnlyList<string> ConfigurationErrors => _errors;

    public void Load(IConfiguration configuration)
    {
        var reader = new SettingsReader(configuration);
        Read(reader);
        _errors = reader.Errors.ToList();
    }

    protected abstract void Read(SettingsReader settings);
}

using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace TeleGuard.Backup.Configuration;

/// <summary>
/// Copies each setting into the options property that names its variable with <see cref="ConfigurationKeyNameAttribute"/>,
/// as text, and nothing else. The configuration binder would also visit every other public property (the derived
/// values: <c>Port</c>, <c>Enabled</c>, <c>Database</c> …), reading variables of those names and converting them, which
/// fails on an unrelated variable of the same name with a message that quotes its value.
/// </summary>
public static class SettingsBinder
{
    public static T Bind<T>(IConfiguration configuration, T options) where T : class
    {
        foreach (var property in typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetCustomAttribute<ConfigurationKeyNameAttribute>() is { } key && property.CanWrite && property.PropertyType == typeof(string))
            {
                property.SetValue(options, configuration[key.Name]);
            }
        }

        return options;
    }
}

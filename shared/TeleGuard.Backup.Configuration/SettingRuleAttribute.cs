using System.ComponentModel.DataAnnotations;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace TeleGuard.Backup.Configuration;

/// <summary>
/// A data-annotation rule on one setting's text, reported as "VARIABLE problem." with the variable taken from the
/// property's <see cref="ConfigurationKeyNameAttribute"/>: the value is never quoted (it may be a secret, and URIs may
/// carry passwords), and no member name is added.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public abstract class SettingRuleAttribute : ValidationAttribute
{
    /// <summary>What is wrong with <paramref name="text"/> (null when unset), or null when it is fine.</summary>
    protected abstract string? ProblemWith(string? text);

    protected sealed override ValidationResult? IsValid(object? value, ValidationContext validationContext)
    {
        ArgumentNullException.ThrowIfNull(validationContext);
        return ProblemWith(value as string) is { } problem
            ? new ValidationResult(Setting.Problem(VariableOf(validationContext), problem))
            : ValidationResult.Success;
    }

    private static string VariableOf(ValidationContext context) =>
        context.MemberName is { } member
        && context.ObjectType.GetProperty(member)?.GetCustomAttribute<ConfigurationKeyNameAttribute>() is { } key
            ? key.Name
            : context.MemberName ?? context.DisplayName;
}

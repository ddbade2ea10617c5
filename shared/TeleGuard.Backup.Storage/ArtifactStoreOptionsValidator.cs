using Microsoft.Extensions.Options;
using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Storage;

/// <summary>Each setting's rules, then those between settings: the store's kind and what it needs, the database's name.</summary>
public sealed class ArtifactStoreOptionsValidator : IValidateOptions<ArtifactStoreOptions>
{
    private readonly ArtifactStoreSettingRules _settingRules = new();

    public ValidateOptionsResult Validate(string? name, ArtifactStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var result = new ValidateOptionsResultBuilder();
        result.AddResult(_settingRules.Validate(name, options));
        switch (options.Kind)
        {
            case "gridfs":
                break;
            case "directory":
                if (options.Directory is null)
                {
                    result.AddError(Setting.Problem(ArtifactStoreOptions.DirectoryVariable, "is required when ARTIFACT_STORE is directory"));
                }

                break;
            default:
                result.AddError(Setting.Problem(ArtifactStoreOptions.StoreVariable, "must be gridfs or directory"));
                break;
        }

        if (options.DatabaseSetting is not null && options.DatabaseSetting == options.BackedUpDatabase)
        {
            result.AddError(Setting.Problem(ArtifactStoreOptions.DatabaseVariable,
                "must not be the database being backed up (the one in MONGODB_URI): artifacts there would bloat it and its oplog"));
        }
        else if (options.Database.Length > 0 && !IsValidDatabaseName(options.Database))
        {
            result.AddError(Setting.Problem(ArtifactStoreOptions.DatabaseVariable, options.DatabaseSetting is null
                ? "must be set: the default (the backed-up database's name + _backup) is not a valid MongoDB database name"
                : "is not a valid MongoDB database name (1 to 63 characters, none of / \\ . \" $ * < > : | ?)"));
        }

        return result.Build();
    }

    private static bool IsValidDatabaseName(string name) =>
        name.Length is > 0 and < 64 && name.IndexOfAny(['/', '\\', '.', ' ', '"', '$', '*', '<', '>', ':', '|', '?', '\0']) < 0;
}

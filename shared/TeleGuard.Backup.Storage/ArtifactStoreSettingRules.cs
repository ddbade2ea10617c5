using Microsoft.Extensions.Options;

namespace TeleGuard.Backup.Storage;

/// <summary>Each setting's own rules (its data annotations); <see cref="ArtifactStoreOptionsValidator"/> adds those between settings.</summary>
[OptionsValidator]
public sealed partial class ArtifactStoreSettingRules : IValidateOptions<ArtifactStoreOptions>;

using Microsoft.Extensions.Options;

namespace TeleGuard.Backup.Cli;

/// <summary>Each setting's own rules (its data annotations); <see cref="DecryptionKeysOptionsValidator"/> adds those between settings.</summary>
[OptionsValidator]
public sealed partial class DecryptionKeysSettingRules : IValidateOptions<DecryptionKeysOptions>;

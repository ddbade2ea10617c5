using Microsoft.Extensions.Options;

namespace TeleGuard.Backup.Destinations.Public;

/// <summary>Each setting's own rules (its data annotations); <see cref="PublicSinkOptionsValidator"/> adds those between settings.</summary>
[OptionsValidator]
public sealed partial class PublicSinkSettingRules : IValidateOptions<PublicSinkOptions>;

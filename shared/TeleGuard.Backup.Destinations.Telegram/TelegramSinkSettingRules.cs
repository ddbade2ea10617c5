using Microsoft.Extensions.Options;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>Each setting's own rules (its data annotations); <see cref="TelegramSinkOptionsValidator"/> adds those between settings.</summary>
[OptionsValidator]
public sealed partial class TelegramSinkSettingRules : IValidateOptions<TelegramSinkOptions>;

using Microsoft.Extensions.Options;

namespace TeleGuard.Backup.Scheduling;

[OptionsValidator]
public sealed partial class AlertOptionsValidator : IValidateOptions<AlertOptions>;

using Microsoft.Extensions.Options;

namespace TeleGuard.Backup.Recording;

[OptionsValidator]
public sealed partial class RecorderOptionsValidator : IValidateOptions<RecorderOptions>;

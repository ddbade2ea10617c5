using Microsoft.Extensions.Options;

namespace TeleGuard.Backup.Destinations;

[OptionsValidator]
public sealed partial class SinkLeaseOptionsValidator : IValidateOptions<SinkLeaseOptions>;

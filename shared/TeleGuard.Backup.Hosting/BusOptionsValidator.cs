using Microsoft.Extensions.Options;

namespace TeleGuard.Backup.Hosting;

[OptionsValidator]
public sealed partial class BusOptionsValidator : IValidateOptions<BusOptions>;

using Microsoft.Extensions.Options;

namespace TeleGuard.Backup.Export;

[OptionsValidator]
public sealed partial class SnapshotServiceOptionsValidator : IValidateOptions<SnapshotServiceOptions>;

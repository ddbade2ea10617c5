using Microsoft.Extensions.Options;

namespace TeleGuard.Backup.Storage;

[OptionsValidator]
public sealed partial class MongoOptionsValidator : IValidateOptions<MongoOptions>;

using TeleGuard.Backup.Encryption;
using TeleGuard.Backup.Hosting;

var builder = WebApplication.CreateSlimBuilder(args);
builder.AddBackupDefaults();
builder.AddEncryptionSinkService();
return await builder.RunBackupServiceAsync();

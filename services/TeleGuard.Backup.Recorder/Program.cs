using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Recording;

var builder = WebApplication.CreateSlimBuilder(args);
builder.AddBackupDefaults();
builder.AddChangeRecorderService();
return await builder.RunBackupServiceAsync();

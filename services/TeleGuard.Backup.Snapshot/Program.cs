using TeleGuard.Backup.Export;
using TeleGuard.Backup.Hosting;

var builder = WebApplication.CreateSlimBuilder(args);
builder.AddBackupDefaults();
builder.AddSnapshotService();
return await builder.RunBackupServiceAsync();
